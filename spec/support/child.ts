// Re-exports tools/child.ts, which the demo shares with the specs (product code never imports spec/).

export * from '../../tools/child';
