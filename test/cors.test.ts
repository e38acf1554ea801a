/**
 * A page on an allowed origin (ROWCAST_ALLOWED_ORIGINS) reads the feeds in a
 * real headless Chromium: EventSource on /sse and fetch of /changes with an
 * Authorization header (a CORS preflight). A page on another origin is
 * refused by the browser, as no CORS header lets it read.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './support/browser.js';
import { describe, expect, startTestServer, test } from './support/fixtures.js';
import { hmacToken, SECRET } from './support/tokens.js';

/** An app's page: an empty document served on a port of its own, so its origin differs from Rowcast's. */
async function pageServer(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

declare global {
  interface Window {
    rowcastEvents: string[];
    rowcastSource: EventSource;
  }
}

/** Opens an EventSource in the page and records the data of its change events. */
function openEventSource(page: Page, url: string): Promise<void> {
  return page.evaluate((u) => {
    window.rowcastEvents = [];
    window.rowcastSource = new EventSource(u);
    window.rowcastSource.addEventListener('change', (e) => window.rowcastEvents.push((e as MessageEvent<string>).data));
  }, url);
}

/** What a fetch of /changes with a bearer token gives the page: the number of changes, or the browser's refusal. */
function fetchChanges(page: Page, url: string, token: string): Promise<number | string> {
  return page.evaluate(
    async ({ u, t }) => {
      try {
        const body = (await (await fetch(u, { headers: { authorization: `Bearer ${t}` } })).json()) as { changes: unknown[] };
        return body.changes.length;
      } catch (error) {
        return `refused: ${String(error)}`;
      }
    },
    { u: url, t: token },
  );
}

describe('CORS for allowed origins', () => {
  const session: { browser: Browser | null; allowed?: { origin: string; server: Server }; foreign?: { origin: string; server: Server } } = {
    browser: null,
  };
  beforeAll(async () => {
    session.browser = await launchChromium();
    session.allowed = await pageServer();
    session.foreign = await pageServer();
  });
  afterAll(async () => {
    await session.browser?.close();
    session.allowed?.server.close();
    session.foreign?.server.close();
  });

  test('an allowed page reads /sse and /changes; a page of another origin cannot', async ({ database }) => {
    const { browser, allowed, foreign } = session;
    if (!browser || !allowed || !foreign) throw new Error('no browser or page servers');
    const rowcast = await startTestServer(database.url, { jwt: { secret: SECRET }, allowedOrigins: [allowed.origin] });
    const token = await hmacToken({ sub: 'u1', role: 'user' });
    const app = await browser.newPage();
    const other = await browser.newPage();
    try {
      await database.query("insert into posts (title) values ('before')");
      await app.goto(`${allowed.origin}/`);
      expect(await fetchChanges(app, `${rowcast.url}/changes/posts`, token)).toBe(1);
      await openEventSource(app, `${rowcast.url}/sse/posts?token=${token}`);
      await app.waitForFunction(() => window.rowcastSource.readyState === EventSource.OPEN);
      await database.query("insert into posts (title) values ('live')");
      await app.waitForFunction(() => window.rowcastEvents.length === 1, undefined, { timeout: 5000 });
      const [data] = await app.evaluate(() => window.rowcastEvents);
      expect(JSON.parse(data!)).toMatchObject({ table: 'posts', op: 'INSERT', row: { title: 'live' } });

      await other.goto(`${foreign.origin}/`);
      expect(await fetchChanges(other, `${rowcast.url}/changes/posts`, token)).toMatch(/^refused: TypeError/);
      await openEventSource(other, `${rowcast.url}/sse/posts?token=${token}`);
      await other.waitForFunction(() => window.rowcastSource.readyState === EventSource.CLOSED, undefined, { timeout: 5000 });
      expect(await other.evaluate(() => window.rowcastEvents.length)).toBe(0);
    } finally {
      await app.close();
      await other.close();
      await rowcast.close();
    }
  });
});
