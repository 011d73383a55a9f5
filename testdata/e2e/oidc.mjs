// Browser test of the console's OpenID Connect sign-in: playwright-core
// drives a headless Chromium (Debian's /usr/bin/chromium) from the console's
// sign-in page through the provider's sign-in and consent pages and back.
//
// cmd/idsync's TestConsoleOIDCInBrowser serves the console at
// http://localhost:PORT and the provider (oidc-provider) at
// http://127.0.0.1:PORT2: two sites, so that the provider's redirect back to
// the console is a cross-site navigation, as with a real provider — the
// SameSite=Lax sign-in cookie must come along, and the SameSite=Strict
// session cookie must be there after the console's hop page. It runs:
//
//   IDSYNC_E2E_PASSWORD=... IDSYNC_E2E_REFUSED_PASSWORD=... \
//   node oidc.mjs --url http://localhost:PORT --user alice --refused-user carol \
//     --provider "Test SSO" --screenshots DIR [--chromium /usr/bin/chromium]
//
// alice's groups make her an admin; carol is in no mapped group. The script
// exits 0 when every check passes; on the first failure it prints what was
// expected (and saves oidc-failure.png) and exits 1.
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    user: { type: 'string' },
    'refused-user': { type: 'string' },
    provider: { type: 'string' },
    screenshots: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
  },
});
const password = process.env.IDSYNC_E2E_PASSWORD;
const refusedPassword = process.env.IDSYNC_E2E_REFUSED_PASSWORD;
for (const [k, v] of Object.entries({ '--url': opt.url, '--user': opt.user, '--refused-user': opt['refused-user'],
  '--provider': opt.provider, '--screenshots': opt.screenshots, IDSYNC_E2E_PASSWORD: password,
  IDSYNC_E2E_REFUSED_PASSWORD: refusedPassword })) {
  if (!v) {
    console.error(`oidc.mjs: ${k} is required`);
    process.exit(2);
  }
}
const base = opt.url.replace(/\/$/, '');
const shots = opt.screenshots;
mkdirSync(shots, { recursive: true });

class Check extends Error {}
function check(ok, msg) {
  if (!ok) throw new Check(msg);
}
function eq(got, want, what) {
  check(got === want, `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

let step = '';
function begin(name) {
  step = name;
  console.log(`- ${name}`);
}

const here = (page) => new URL(page.url());

// signInAtProvider clicks the console's button and signs in at the
// provider: its sign-in form, then its consent form.
async function signInAtProvider(page, user, pw, shot) {
  await page.goto(`${base}/login?next=${encodeURIComponent('/runs')}`);
  if (shot) await page.screenshot({ path: path.join(shots, shot), fullPage: true });
  await page.getByRole('link', { name: `Sign in with ${opt.provider}` }).click();
  await page.waitForLoadState('load');
  check(here(page).origin !== new URL(base).origin, `the button did not lead to the provider (on ${page.url()})`);
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill(pw);
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.waitForLoadState('load');
  await page.getByRole('button', { name: 'Continue' }).click();
}

const browser = await chromium.launch({
  executablePath: opt.chromium,
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start.
  args: ['--no-sandbox'],
});
let page;
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  ctx.setDefaultTimeout(10000);
  page = await ctx.newPage();

  begin(`sign in as ${opt.user} through ${opt.provider}`);
  await signInAtProvider(page, opt.user, password, 'oidc-login.png');
  // The callback's hop page moves on to the page asked for, in a session.
  await page.waitForURL(`${base}/runs`);
  eq((await page.getByRole('heading', { level: 1 }).textContent()).trim(), 'Run history', 'the heading after signing in');
  check((await page.locator('body').textContent()).includes(`${opt.user} (admin)`), `the page does not show ${opt.user} signed in as admin`);
  await page.screenshot({ path: path.join(shots, 'oidc-signed-in.png'), fullPage: true });
  const cookies = await ctx.cookies(base);
  const session = cookies.find((c) => c.name === 'idsync_session');
  check(session && session.sameSite === 'Strict' && session.httpOnly, `the session cookie: ${JSON.stringify(session)}`);

  begin('an admin action with the session: disable the scheduler');
  await page.goto(`${base}/scheduler`);
  await page.getByRole('button', { name: /Disable the scheduler/ }).click();
  await page.waitForLoadState('load');
  eq(here(page).pathname, '/scheduler', 'the page after disabling the scheduler');
  eq((await page.getByRole('status').textContent()).trim(), 'Scheduler disabled', 'the message after disabling the scheduler');

  begin('sign out');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForLoadState('load');
  eq(here(page).pathname, '/login', 'the page after signing out');
  await ctx.close();

  begin(`${opt['refused-user']}, in no mapped group, is refused`);
  const rctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  rctx.setDefaultTimeout(10000);
  page = await rctx.newPage();
  await signInAtProvider(page, opt['refused-user'], refusedPassword);
  await page.waitForURL((u) => u.pathname === '/login/oidc/callback');
  check((await page.locator('body').textContent()).includes('none of your groups grants a role'), 'the refusal page does not say why');
  await page.screenshot({ path: path.join(shots, 'oidc-refused.png'), fullPage: true });
  const r = await rctx.request.get(`${base}/`, { maxRedirects: 0 });
  eq(r.status(), 303, 'GET / after the refusal (a redirect to the sign-in page)');
  await rctx.close();
  console.log(`ok: every check passed; screenshots in ${shots}`);
} catch (e) {
  failed = true;
  if (page && !page.isClosed()) await page.screenshot({ path: path.join(shots, 'oidc-failure.png'), fullPage: true }).catch(() => {});
  const where = page && !page.isClosed() ? ` (on ${page.url()})` : '';
  console.error(`FAIL: ${step}${where}:\n  ${e instanceof Check ? e.message : e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
