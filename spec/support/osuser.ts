// Re-exports tools/osuser.ts, which the demo shares with the specs (product code never imports spec/).

export * from '../../tools/osuser';
