// Re-exports tools/reaper.ts, which the demo shares with the specs (product code never imports spec/).

export * from '../../tools/reaper';
