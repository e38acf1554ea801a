/**
 * The ChangeFeed over a real change log when a table is first subscribed
 * while a pass is under way: the pass reads that table's changes after the
 * fact, and if the database fails during that read, or during the pass's own
 * pages (the cursor already past some of them), the next pass reads them
 * instead of skipping them. The failure is injected at the reader (one read
 * throws once); everything else is the real database. The same with a real
 * pg_terminate_backend is in cursor-news.adversarial.test.ts.
 */
import { compareCursors, type Cursor } from '../src/capture/cursor.js';
import { ChangeFeed } from '../src/capture/change-feed.js';
import { ChangeLogReader, type ReadOptions } from '../src/capture/change-log.js';
import type { Change } from '../src/capture/change.js';
import { openDatabase } from '../src/db/database.js';
import { RowcastError } from '../src/errors.js';
import { TableCatalog } from '../src/hub/table-catalog.js';
import type { TestDatabase } from './support/database.js';
import { expect, silentLog, startTestServer, test } from './support/fixtures.js';
import { waitFor } from './support/wait.js';

/** A reader whose pass lets `orders` be subscribed mid-way, and whose first read matching `failOn` fails. */
class MidPassSubscriber extends ChangeLogReader {
  failures = 0;
  constructor(
    args: ConstructorParameters<typeof ChangeLogReader>,
    private readonly tables: Set<string>,
    private readonly failOn: (options: ReadOptions) => boolean,
  ) {
    super(...args);
  }

  override async advance(after: Cursor, limit: number, tables: readonly string[]) {
    const pass = await super.advance(after, limit, tables);
    this.tables.add('public.orders');
    return pass;
  }

  override async readAfter(after: Cursor, options: ReadOptions) {
    if (this.failOn(options) && this.failures === 0) {
      this.failures += 1;
      throw new RowcastError('unavailable', 'injected: the database went away during the read');
    }
    return super.readAfter(after, options);
  }
}

async function runFeed(
  database: TestDatabase,
  pageSize: number,
  failOn: (options: ReadOptions) => boolean,
  writes: () => Promise<void>,
  expected: string[],
): Promise<void> {
  // A server run installs the schema and the demo tables; the feed below is the only reader.
  await (await startTestServer(database.url)).close();
  const db = openDatabase(database.url);
  const catalog = new TableCatalog(db.db);
  await catalog.refresh();
  const tables = new Set(['public.posts']);
  const reader = new MidPassSubscriber([db.db, db.pool, catalog], tables, failOn);
  const feed = new ChangeFeed(
    reader,
    { pageSize, tables: () => new Set(tables), fallbackPollMs: 600_000, retentionMs: 3_600_000, pruneEveryMs: 600_000 },
    silentLog,
    null,
  );
  const published: Change[] = [];
  feed.on('changes', (changes) => published.push(...changes));
  const seen = () => published.map((c) => `${c.tableKey} ${c.row.status ?? c.row.title}`);
  try {
    await feed.start();
    await writes();
    feed.wake();
    await waitFor(() => published.length >= expected.length, { what: `${expected.length} changes` });
    expect(reader.failures).toBe(1);
    // Order within each table is what subscribers see; each change once.
    for (const table of ['public.posts', 'public.orders']) {
      expect(seen().filter((c) => c.startsWith(table))).toEqual(expected.filter((c) => c.startsWith(table)));
    }
    // Published through the head only once nothing is left to backfill.
    await waitFor(() => compareCursors(feed.publishedThrough, feed.cursor) === 0, { what: 'publishedThrough to catch up' });
  } finally {
    await feed.stop();
    await db.close();
  }
}

test('a table subscribed mid-pass gets what it missed, also when the database fails during that read', async ({ database }) => {
  await runFeed(
    database,
    500,
    (options) => options.tables?.includes('public.orders') === true,
    async () => {
      for (let i = 1; i <= 3; i++) await database.query('insert into orders (status) values ($1)', [`o${i}`]);
      await database.query("insert into posts (title) values ('p1')");
    },
    ['public.posts p1', 'public.orders o1', 'public.orders o2', 'public.orders o3'],
  );
});

test('a table subscribed mid-pass gets what it missed when the database fails during the pass\'s own pages', async ({ database }) => {
  await runFeed(
    database,
    2,
    // The second page of posts: the cursor is already past the first page, and so past o1.
    (options) => options.tables?.join() === 'public.posts',
    async () => {
      const client = await database.pool.connect();
      try {
        await client.query('begin');
        await client.query("insert into orders (status) values ('o1')");
        for (let i = 1; i <= 6; i++) await client.query('insert into posts (title) values ($1)', [`p${i}`]);
        await client.query('commit');
      } finally {
        client.release();
      }
    },
    ['public.posts p1', 'public.posts p2', 'public.posts p3', 'public.posts p4', 'public.posts p5', 'public.posts p6', 'public.orders o1'],
  );
});
