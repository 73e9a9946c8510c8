/**
 * The dashboard in a real browser: three node OS processes over TCP, node a serving the
 * dashboard (started by rpc), Debian's chromium driven by playwright-core. Opens the page with
 * the token, sees the three nodes, finds a key in the registry browser, watches an event arrive
 * live, and sees a SIGKILLed node go down. Screenshots go to test-artifacts/dashboard/.
 *
 * Without chromium the test is skipped (saying so), except under CI=true, where it fails.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const required = process.env['CI'] === 'true';
const ARTIFACTS = 'test-artifacts/dashboard';
const heartbeat = { intervalMs: 200, timeoutMs: 1000 };
const reconnect = { initialMs: 50, maxMs: 300 };

const title = available || required ? 'dashboard in a real browser' : `dashboard in a real browser (SKIPPED: no chromium at ${CHROMIUM}; apt-get install -y chromium)`;

if (!available && !required) console.warn(`test/cluster/dashboard-browser.test.ts: ${title}`);

describe.skipIf(!available && !required)(title, () => {
  let cluster: TestCluster | undefined;
  let browser: Browser | undefined;
  let dashboard: { url: string; token: string };

  beforeAll(async () => {
    if (!available) throw new Error(`CI=true needs chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await startCluster(['a', 'b', 'c'], { heartbeat, reconnect });
    for (const n of cluster.nodes) {
      await n.rpc(async ({ node, api, state }) => {
        state['group'] = await api.Group.start(node, { name: 'app', log: false });
      });
    }
    await cluster.waitForGroupPeers();
    dashboard = await cluster.node('a').rpc(async ({ node, api, state }) => {
      const d = await api.startDashboard(node, { roles: { a: ['web'], b: ['worker'], c: ['worker'] } });
      state['dashboard'] = d;
      return { url: d.url as string, token: d.token as string };
    });
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: root ? ['--no-sandbox'] : [] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stopAll();
  });

  /** Register `key` for a fresh idle process on node `name` (by rpc). */
  async function register(name: string, key: string, meta: Record<string, unknown>): Promise<void> {
    const result = await cluster!.node(name).rpc(
      ({ node, state }, arg) => {
        const pid = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
          for (;;) await ctx.receive();
        });
        return (state['group'] as { register(k: string, m: unknown, o: unknown): string }).register(arg.key, arg.meta, { pid });
      },
      { key, meta },
    );
    expect(result).toBe('ok');
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  }

  it('shows the nodes, finds a key, streams an event live and sees a killed node go down', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // The entry with the token sets the cookie and lands on the page without it in the address.
    await page.goto(`${dashboard.url}?token=${dashboard.token}`);
    expect(new URL(page.url()).search).toBe('');
    const rows = page.locator('#nodes tbody tr');
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-node')}:${tr.getAttribute('data-link')}`)), { timeout: 10_000 }).toEqual([
      'a:self',
      'b:up',
      'c:up',
    ]);
    expect(await page.locator('#nodes tbody tr[data-node="b"]').innerText()).toContain('worker');
    await shot(page, '1-cluster');

    // Registry browser: a key registered on b, found by prefix from a's dashboard.
    await register('b', 'user/browser', { from: 'b' });
    await waitFor(async () => cluster!.node('a').rpc(({ state }) => (state['group'] as { lookup(k: string): unknown }).lookup('user/browser') !== null), { what: 'user/browser replicated to a' });
    await page.click('nav button[data-tab="registry"]');
    await page.fill('#registry-prefix', 'user/');
    await page.click('#registry-form button[type="submit"]');
    const found = page.locator('#registry tbody tr[data-key="user/browser"]');
    await found.waitFor({ timeout: 10_000 });
    const text = await found.innerText();
    expect(text).toContain('b');
    expect(text).toContain('{"from":"b"}');
    await shot(page, '2-registry');

    // Event stream: open it, then register on c; the event arrives without a reload.
    await page.click('nav button[data-tab="events"]');
    await expect.poll(() => page.locator('#events-summary').innerText(), { timeout: 10_000 }).toContain('stream: live');
    await register('c', 'user/live', { n: 1 });
    const live = page.locator('#events tbody tr[data-type="registered"][data-key="user/live"]');
    await live.waitFor({ timeout: 10_000 });
    expect(await live.innerText()).toContain('c');
    await shot(page, '3-events');

    // Kill c: the cluster page shows it down (and the stream says nodedown).
    await cluster!.node('c').kill('SIGKILL');
    await page.locator('#events tbody tr[data-type="nodedown"]').waitFor({ timeout: 10_000 });
    await page.click('nav button[data-tab="cluster"]');
    await page.locator('#nodes tbody tr[data-node="c"][data-link="down"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#nodes tbody tr[data-node="b"]').getAttribute('data-link')).toBe('up');
    await shot(page, '4-cluster-after-kill');

    await page.click('nav button[data-tab="metrics"]');
    await page.locator('#charts .chart[data-rate="registrations"] svg polyline').waitFor({ timeout: 10_000 });
    // b's and c's registrations were applied on a: their replication lag was sampled there.
    const lag = page.locator('#charts .chart[data-rate="replication-lag"] .value');
    await lag.waitFor({ timeout: 10_000 });
    expect(await lag.textContent()).toMatch(/^-?\d+\.\d$/);
    await shot(page, '5-metrics');
    expect(errors).toEqual([]);
  }, 60_000);
});
