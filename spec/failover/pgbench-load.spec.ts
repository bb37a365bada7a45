// Spec of how the drill reads pgbench's aborts (spec/failover/pgbench-load.ts): the command
// numbers come from pgbench itself, and both forms pgbench 15 prints an abort in are read.

import { TPCB_SCRIPT, parseAborts, scriptCommands } from './pgbench-load';

describe('scriptCommands', () => {
  it('numbers tpcb-like as pgbench does: 4 meta-commands, then BEGIN (4) to END (10)', async () => {
    const commands = await scriptCommands(TPCB_SCRIPT);
    expect(commands).toEqual([
      '\\set aid',
      '\\set bid',
      '\\set tid',
      '\\set delta',
      'BEGIN',
      'UPDATE pgbench_accounts',
      'SELECT pgbench_accounts',
      'UPDATE pgbench_tellers',
      'UPDATE pgbench_branches',
      'INSERT pgbench_history',
      'END',
    ]);
  });
});

describe('parseAborts', () => {
  /** Lines as pgbench 15 printed them in drills through PgBouncer and pgmux. */
  it('reads the server-error form and the lost-connection form, with the command each client was in', async () => {
    const commands = await scriptCommands(TPCB_SCRIPT);
    const output = [
      'pgbench: error: client 17 script 0 aborted in command 4 query 0: FATAL:  terminating connection due to administrator command',
      'pgbench: error: client 14 aborted in command 10 (SQL) of script 0; perhaps the backend died while processing',
      'pgbench: error: client 11 script 0 aborted in command 10 query 0: FATAL:  server conn crashed?',
      'client 3 aborted while receiving the transaction status',
      'pgbench: error: Run was aborted; the above results are incomplete.',
    ].join('\n');
    expect(parseAborts(output, commands)).toEqual([
      { client: 17, command: 'BEGIN', message: 'FATAL:  terminating connection due to administrator command' },
      { client: 14, command: 'END', message: 'perhaps the backend died while processing' },
      { client: 11, command: 'END', message: 'FATAL:  server conn crashed?' },
      { client: 3, command: '', message: 'while receiving the transaction status' },
    ]);
  });
});
