/**
 * The dashboard at `GET /` (CONTRACT §6) in a real headless Chromium, driven
 * by playwright-core: the indicator, live rows, values shown as text only,
 * offline when the server stops, and the token prompt when auth is on.
 */
import { SignJWT } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './support/browser.js';
import { describe, expect, startTestServer, test } from './support/fixtures.js';

const SCREENSHOT = '/tmp/rowcast-dashboard.png';
const SECRET = 'x'.repeat(32);

describe('dashboard', () => {
  const session: { browser: Browser | null } = { browser: null };
  beforeAll(async () => {
    session.browser = await launchChromium();
  });
  afterAll(async () => {
    await session.browser?.close();
  });

  /** A fresh page that records script errors, so a test can assert there were none. */
  async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
    if (!session.browser) throw new Error('no browser');
    const page = await session.browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
    await page.goto(`${url}/`);
    return { page, errors };
  }

  const indicator = (page: Page, text: 'online' | 'offline') => page.locator('#connection', { hasText: new RegExp(`^${text}$`) });
  const livePanel = (page: Page, table: string) => page.locator(`section[data-table="${table}"][data-live="true"]`);

  test('shows online, then orders as they commit, values as text only, UPDATE with changed columns marked', async ({ rowcast, database }) => {
    const { page, errors } = await openPage(rowcast.url);
    await indicator(page, 'online').waitFor({ timeout: 10_000 });
    for (const table of ['orders', 'posts', 'notifications']) await livePanel(page, table).waitFor({ timeout: 10_000 });

    await database.query("insert into orders (order_number, customer_name, total) values ('D-1', 'Ada', 19.99)");
    const orders = page.locator('section[data-table="orders"]');
    await orders.locator('.change', { hasText: 'D-1' }).waitFor({ timeout: 2000 });

    const attack = '<img src=x onerror="window.__rowcastXss = 1">';
    await database.query("insert into orders (order_number, customer_name) values ('D-2', $1)", [attack]);
    const attackItem = orders.locator('.change', { hasText: 'D-2' });
    await attackItem.waitFor({ timeout: 2000 });
    expect(await attackItem.locator('dd', { hasText: 'onerror' }).textContent()).toBe(attack);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __rowcastXss?: number }).__rowcastXss)).toBeUndefined();

    await database.query("update orders set status = 'paid' where order_number = 'D-1'");
    await database.query("insert into posts (author_id, title) values ('u1', 'Hello dashboard')");
    await database.query("insert into notifications (user_id, title) values ('u1', 'Ping')");
    const update = orders.locator('.change[data-op="UPDATE"]');
    await update.waitFor({ timeout: 2000 });
    expect(await update.locator('dd.changed').allTextContents()).toEqual(['paidpending']);
    await page.locator('section[data-table="posts"] .change', { hasText: 'Hello dashboard' }).waitFor({ timeout: 2000 });
    await page.locator('section[data-table="notifications"] .change', { hasText: 'Ping' }).waitFor({ timeout: 2000 });
    expect(await orders.locator('.counters').textContent()).toBe('changes: 3 (inserts 2, updates 1, deletes 0)');

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  test('more tables than one connection may subscribe (105 with the demo ones), and one exposed after the page loaded: every panel live, showing its rows', { timeout: 60_000 }, async ({ rowcast, database }) => {
    const names = Array.from({ length: 102 }, (_, i) => `wide_${String(i).padStart(3, '0')}`);
    await database.query(names.map((n) => `create table public.${n} (id int primary key, note text); select rowcast.expose('public.${n}');`).join('\n'));
    await expect.poll(async () => ((await (await fetch(`${rowcast.url}/tables`)).json()) as { tables: unknown[] }).tables.length, { timeout: 10_000 }).toBe(105);
    const { page, errors } = await openPage(rowcast.url);
    await indicator(page, 'online').waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator('section[data-live="true"]').count(), { timeout: 15_000 }).toBe(105);
    const last = names.at(-1)!;
    await database.query(`insert into ${last} values (1, 'the last table')`);
    await page.locator(`section[data-table="${last}"] .change`, { hasText: 'the last table' }).waitFor({ timeout: 5000 });

    await database.query("create table public.late_table (id int primary key, note text); select rowcast.expose('public.late_table')");
    await livePanel(page, 'late_table').waitFor({ timeout: 10_000 });
    await database.query("insert into late_table values (1, 'exposed after the page loaded')");
    await page.locator('section[data-table="late_table"] .change', { hasText: 'exposed after the page loaded' }).waitFor({ timeout: 5000 });
    expect(await page.locator('.table-error:not([hidden])').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  test('turns offline when the server stops', async ({ database }) => {
    const server = await startTestServer(database.url);
    try {
      const { page } = await openPage(server.url);
      await indicator(page, 'online').waitFor({ timeout: 10_000 });
      await server.close();
      await indicator(page, 'offline').waitFor({ timeout: 5000 });
      expect(await page.locator('#connection-detail').textContent()).toMatch(/^reconnecting: attempt \d+/);
      await page.close();
    } finally {
      await server.close();
    }
  });

  test('asks for a token when auth is on, and connects with it', async ({ database }) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
    try {
      const { page, errors } = await openPage(server.url);
      await page.locator('#login').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await indicator(page, 'offline').count()).toBe(1);

      await page.fill('#token', 'not-a-token');
      await page.click('#login button');
      await page.locator('#login-error', { hasText: 'refused' }).waitFor({ timeout: 5000 });

      const token = await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('dba')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(SECRET));
      await page.fill('#token', token);
      await page.click('#login button');
      await indicator(page, 'online').waitFor({ timeout: 10_000 });
      await livePanel(page, 'orders').waitFor({ timeout: 10_000 });
      expect(await page.locator('#login').isHidden()).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('rowcast.dashboard.token'))).toBe(token);
      // The refused probe of the wrong token is the only error the browser logged.
      expect(errors.filter((e) => !/401/.test(e))).toEqual([]);
      await page.close();
    } finally {
      await server.close();
    }
  });
});
