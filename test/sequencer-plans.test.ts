/**
 * A sequencer pass reads the log through its (xid, seq) index, also when the
 * statistics say the log is empty while it grows (right after a truncate, or
 * on a fresh install, until autovacuum analyzes it). A plan made from such
 * statistics would scan the whole log on every pass.
 */
import { expect, startTestServer, test } from './support/fixtures.js';

/** Sequential scans of a rowcast table so far, with every backend's pending counts flushed. */
async function seqScans(db: { query: (text: string) => Promise<{ rows: Array<Record<string, unknown>> }> }, table: string): Promise<number> {
  await db.query('select pg_stat_force_next_flush()');
  await db.query('select pg_stat_clear_snapshot()');
  const { rows } = await db.query(`select seq_scan from pg_stat_user_tables where schemaname = 'rowcast' and relname = '${table}'`);
  return Number(rows[0]?.seq_scan);
}

test('passes over a log that grew after its statistics said empty do not scan it', async ({ database }) => {
  // A server installs the schema and stops: the passes below are the only ones, in this session.
  await (await startTestServer(database.url)).close();
  const client = await database.pool.connect();
  try {
    await client.query('truncate orders, rowcast.changes, rowcast.transactions');
    await client.query('vacuum analyze rowcast.changes, rowcast.transactions');
    let head = Number((await client.query('select rowcast.sequence() as head')).rows[0].head);
    const before = await seqScans(client, 'changes');
    let read = 0;
    for (let round = 0; round < 5; round++) {
      // 2,000 transactions of one row each, then the feed's pass over them, caught up.
      await client.query("do $$ begin for i in 1..2000 loop insert into orders (order_number) values ('grow'); commit; end loop; end $$");
      const pass = await client.query('select head_pos, pos from rowcast.advance($1, 0, 10000, null)', [head + 1]);
      head = Number(pass.rows[0].head_pos);
      read += pass.rows.filter((r) => r.pos !== null).length;
    }
    expect(read).toBe(10_000);
    expect(await seqScans(client, 'changes')).toBe(before);
  } finally {
    client.release();
  }
});
