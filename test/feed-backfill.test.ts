/**
 * The ChangeFeed over a real change log when a table is first subscribed
 * while a pass is under way: the pass reads that table's changes after the
 * fact, and if the database fails during that read, the next pass finishes
 * it instead of skipping it. The failure is injected at the reader (the read
 * of the new table throws once); everything else is the real database.
 */
import type { Cursor } from '../src/capture/cursor.js';
import { ChangeFeed } from '../src/capture/change-feed.js';
import { ChangeLogReader, type ReadOptions } from '../src/capture/change-log.js';
import type { Change } from '../src/capture/change.js';
import { openDatabase } from '../src/db/database.js';
import { RowcastError } from '../src/errors.js';
import { TableCatalog } from '../src/hub/table-catalog.js';
import { expect, silentLog, startTestServer, test } from './support/fixtures.js';
import { waitFor } from './support/wait.js';

/** A reader whose pass lets `orders` be subscribed mid-way, and whose first read of `orders` fails. */
class MidPassSubscriber extends ChangeLogReader {
  failures = 0;
  constructor(
    args: ConstructorParameters<typeof ChangeLogReader>,
    private readonly tables: Set<string>,
  ) {
    super(...args);
  }

  override async advance(after: Cursor, limit: number, tables: readonly string[]) {
    const pass = await super.advance(after, limit, tables);
    this.tables.add('public.orders');
    return pass;
  }

  override async readAfter(after: Cursor, options: ReadOptions) {
    if (options.tables?.includes('public.orders') && this.failures === 0) {
      this.failures += 1;
      throw new RowcastError('unavailable', 'injected: the database went away during the read');
    }
    return super.readAfter(after, options);
  }
}

test('a table subscribed mid-pass gets what it missed, also when the database fails during that read', async ({ database }) => {
  // A server run installs the schema and the demo tables; the feed below is the only reader.
  await (await startTestServer(database.url)).close();
  const db = openDatabase(database.url);
  const catalog = new TableCatalog(db.db);
  await catalog.refresh();
  const tables = new Set(['public.posts']);
  const reader = new MidPassSubscriber([db.db, db.pool, catalog], tables);
  const feed = new ChangeFeed(
    reader,
    { pageSize: 500, tables: () => new Set(tables), fallbackPollMs: 600_000, retentionMs: 3_600_000, pruneEveryMs: 600_000 },
    silentLog,
    null,
  );
  const published: Change[] = [];
  feed.on('changes', (changes) => published.push(...changes));
  try {
    await feed.start();
    for (let i = 1; i <= 3; i++) await database.query('insert into orders (status) values ($1)', [`o${i}`]);
    await database.query("insert into posts (title) values ('p1')");

    feed.wake();
    await waitFor(() => published.filter((c) => c.tableKey === 'public.orders').length === 3, {
      what: 'the orders changes the failed read left behind',
    });
    expect(reader.failures).toBe(1);
    expect(published.map((c) => `${c.tableKey} ${c.row.status ?? c.row.title}`)).toEqual([
      'public.posts p1',
      'public.orders o1',
      'public.orders o2',
      'public.orders o3',
    ]);
    // Published through the head only once the backfill was done.
    await waitFor(() => feed.publishedThrough.pos === feed.cursor.pos, { what: 'publishedThrough to catch up' });
  } finally {
    await feed.stop();
    await db.close();
  }
});
