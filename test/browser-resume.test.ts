/**
 * The browser's own EventSource (headless Chromium) follows the server's
 * `event: cursor` frames: after its connection is cut before any change came,
 * it reconnects with that cursor as Last-Event-ID and gets what was committed
 * meanwhile, once. The page listens to `cursor` only to know it arrived.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './support/browser.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { startTcpProxy } from './support/tcp-proxy.js';
import { waitFor } from './support/wait.js';

declare global {
  interface Window {
    rowcastTitles: string[];
    rowcastOpened: number;
    rowcastCursors: number;
  }
}

let browser: Browser | null = null;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

test('Chromium resumes from the cursor frame it was sent: the change committed while it was cut off arrives once', { timeout: 30_000 }, async ({ database }) => {
  if (!browser) throw new Error('no browser');
  const server = await startTestServer(database.url);
  const proxy = await startTcpProxy(server.port);
  const page = await browser.newPage();
  try {
    // Same origin as the stream: the page is served through the proxy too.
    await page.goto(`${proxy.url}/health`);
    await page.evaluate(() => {
      window.rowcastTitles = [];
      window.rowcastOpened = 0;
      window.rowcastCursors = 0;
      const source = new EventSource('/sse/posts');
      source.addEventListener('open', () => (window.rowcastOpened += 1));
      source.addEventListener('cursor', () => (window.rowcastCursors += 1));
      source.addEventListener('change', (e) => window.rowcastTitles.push(JSON.parse((e as MessageEvent<string>).data).row.title));
    });
    await page.waitForFunction(() => window.rowcastOpened === 1 && window.rowcastCursors === 1);

    const before = proxy.accepted;
    proxy.hold();
    proxy.cut();
    await database.query("insert into posts (title) values ('while cut off')");
    await waitFor(() => proxy.accepted > before, { what: 'Chromium to reconnect', timeoutMs: 15_000 });
    proxy.release();
    await page.waitForFunction(() => window.rowcastOpened === 2, undefined, { timeout: 10_000 });
    await page.waitForFunction(() => window.rowcastTitles.length === 1, undefined, { timeout: 10_000 });
    await database.query("insert into posts (title) values ('live')");
    await page.waitForFunction(() => window.rowcastTitles.length === 2, undefined, { timeout: 10_000 });
    expect(await page.evaluate(() => window.rowcastTitles)).toEqual(['while cut off', 'live']);
  } finally {
    await page.close();
    await proxy.close();
    await server.close();
  }
});
