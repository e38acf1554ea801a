/**
 * A server stalled (SIGSTOP: a long GC pause, a frozen VM) past the retention
 * window, while the others went on and retention pruned what it had not read:
 * its live subscribers are told (`cursor_expired`: resume from your cursor),
 * never left with a silent gap (CONTRACT §3).
 */
import { expect, test } from './support/fixtures.js';
import { startServerProcess } from './support/server-process.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

test('a server frozen while history it had not read is pruned tells its subscribers, who resume from their cursors with no gap', { timeout: 60_000 }, async ({ rowcast, database }) => {
  const frozen = await startServerProcess({ DATABASE_URL: database.url, ROWCAST_RETENTION: '1s' });
  const onOther = await TestWsClient.connect(rowcast.url);
  const onFrozen = await TestWsClient.connect(frozen.url);
  try {
    await onOther.subscribe({ id: 'p', table: 'posts' });
    await onFrozen.subscribe({ id: 'p', table: 'posts' });
    await database.query("insert into posts (title) values ('before')");
    await onFrozen.waitForChanges(1, 'p');
    const cursor = onFrozen.changes('p')[0]!.id;

    frozen.kill('SIGSTOP');
    try {
      for (let i = 0; i < 10; i++) await database.query('insert into posts (title) values ($1)', [`during-${i}`]);
      await onOther.waitForChanges(11, 'p');
      // What retention does once those rows are a second old.
      await waitFor(
        async () => {
          await database.query("select rowcast.prune('1 second'::interval, 5000)");
          const { rows } = await database.query<{ n: number }>("select count(*)::int as n from rowcast.changes where row->>'title' like 'during-%'");
          return rows[0]?.n === 0;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: 'the rows written meanwhile to be pruned' },
      );
    } finally {
      frozen.kill('SIGCONT');
    }
    await database.query("insert into posts (title) values ('after')");
    // Told, not silent: the subscription ends with cursor_expired…
    expect(await onFrozen.waitFor((m) => m.type === 'error' && m.ref === 'p', 15_000)).toMatchObject({ code: 'cursor_expired' });
    // …and nothing it skipped was passed off as delivered.
    expect(onFrozen.changes('p').map((c) => c.row.title)).toEqual(['before']);
    // Resuming from its cursor, the history it missed is gone: refused, not a gap.
    onFrozen.send({ type: 'subscribe', id: 'again', table: 'posts', since: cursor });
    expect(await onFrozen.waitFor((m) => m.type === 'error' && m.ref === 'again')).toMatchObject({ code: 'cursor_expired' });
    // Starting over, the server serves again.
    await onFrozen.subscribe({ id: 'fresh', table: 'posts' });
    await database.query("insert into posts (title) values ('fresh')");
    await onFrozen.waitFor((m) => m.type === 'change' && m.sub === 'fresh' && m.row.title === 'fresh');
  } finally {
    onOther.close();
    onFrozen.close();
    frozen.kill('SIGKILL');
    await frozen.exited;
  }
});
