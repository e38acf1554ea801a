/**
 * CONTRACT §7 with a bigint owner column holding values past 2^53, where a
 * double cannot tell 9007199254740993 from ...992: each row reaches its owner
 * and no one else, live, on resume, over SSE and on /changes, and the event
 * carries the owner as the very number PostgreSQL wrote.
 */
import type { RowcastServer } from '../src/server.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { TestSseClient } from './support/sse-client.js';
import { bearer, connectAs, getJson, hmacToken, SECRET } from './support/tokens.js';
import { waitFor } from './support/wait.js';

const it = test.extend<{ server: RowcastServer }>({
  server: async ({ database }, use) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
    await use(server);
    await server.close();
  },
});

const OWNER = '9007199254740993';
/** A double rounds OWNER to this one. */
const NEIGHBOUR = '9007199254740992';
/** Rows 1 and 3 are OWNER's, 2 and 4 NEIGHBOUR's. */
const WRITES = `insert into own_big values (1, ${OWNER}), (2, ${NEIGHBOUR}), (3, ${OWNER}), (4, ${NEIGHBOUR})`;
const SEES: Record<string, number[]> = { [OWNER]: [1, 3], [NEIGHBOUR]: [2, 4] };

const ids = (changes: Array<{ row: Record<string, unknown> }>) => changes.map((c) => c.row.id);

async function served(server: RowcastServer, token: string): Promise<void> {
  await waitFor(async () => (await getJson(`${server.url}/tables`, bearer(token))).json?.tables?.some((t: { name: string }) => t.name === 'own_big'), {
    what: 'own_big to be served',
  });
}

it('a bigint owner past 2^53 decides by its exact digits: live, on resume, over SSE and /changes', async ({ server, database }) => {
  const users = await Promise.all(
    // The neighbour first: a leak to it is the failure to see.
    [NEIGHBOUR, OWNER].map(async (sub) => ({ sub, token: await hmacToken({ sub, role: 'user' }), sees: SEES[sub] as number[] })),
  );
  await database.query('create table own_big (id int primary key, owner bigint)');
  await database.query("select rowcast.expose('public.own_big', owner_column => 'owner')");
  await served(server, users[0]!.token);

  const live = await Promise.all(users.map((user) => connectAs(server.url, user.token)));
  const rawFrames: string[] = [];
  live[1]!.socket.on('message', (data) => rawFrames.push(data.toString()));
  const early = await live[0]!.subscribe({ id: 'o', table: 'own_big' });
  await live[1]!.subscribe({ id: 'o', table: 'own_big' });
  await database.query(WRITES);

  for (const [i, { sub, token, sees }] of users.entries()) {
    const ws = live[i]!;
    const last = sees.at(-1);
    await ws.waitFor((m) => m.type === 'change' && m.row.id === last);
    expect(ids(ws.changes('o')), `live, sub ${sub}`).toEqual(sees);

    const resumed = await connectAs(server.url, token);
    await resumed.subscribe({ id: 'r', table: 'own_big', since: early });
    await resumed.waitFor((m) => m.type === 'change' && m.row.id === last);
    expect(ids(resumed.changes('r')), `resume, sub ${sub}`).toEqual(sees);
    resumed.close();

    const sse = new TestSseClient(`${server.url}/sse/own_big?since=${early}`, bearer(token));
    await waitFor(() => sse.events.some((e) => e.row.id === last), { what: `SSE row ${last}` });
    expect(ids(sse.events), `SSE, sub ${sub}`).toEqual(sees);
    sse.close();

    const polled = await getJson(`${server.url}/changes/own_big?since=${early}`, bearer(token));
    expect(ids(polled.json.changes), `/changes, sub ${sub}`).toEqual(sees);
    ws.close();
  }
  // The wire format is untouched: the owner is the JSON number PostgreSQL wrote, every digit of it.
  expect(rawFrames.filter((f) => f.includes('"type":"change"')).map((f) => /"owner":(\d+)/.exec(f)?.[1])).toEqual([OWNER, OWNER]);
});

it('an owner handed from ...992 to ...993 arrives without its old image, as any hand-over', async ({ server, database }) => {
  const token = await hmacToken({ sub: OWNER, role: 'user' });
  await database.query('create table own_big (id int primary key, owner bigint, secret text)');
  await database.query("select rowcast.expose('public.own_big', owner_column => 'owner')");
  await served(server, token);
  const ws = await connectAs(server.url, token);
  await ws.subscribe({ id: 'o', table: 'own_big' });
  await database.query(`insert into own_big values (1, ${NEIGHBOUR}, 'of ${NEIGHBOUR}')`);
  await database.query(`update own_big set owner = ${OWNER}, secret = 'now yours' where id = 1`);
  const [change] = await ws.waitForChanges(1, 'o');
  expect([change?.op, change?.row.secret, change?.old]).toEqual(['UPDATE', 'now yours', null]);
  ws.close();
});
