// Browser end-to-end test of idsync's web console: playwright-core drives a
// headless Chromium (Debian's /usr/bin/chromium; Playwright's own browser
// builds are not used) through what an administrator and a read-only user
// do, and saves a PNG screenshot of each main page.
//
// cmd/idsync's TestConsoleInBrowser prepares the console (the demo
// configuration, served by `idsync serve`, with Grace Kim's title changed in
// contoso's LDIF file after the first sync cycle) and runs this script:
//
//   IDSYNC_E2E_PASSWORD=... IDSYNC_E2E_BROWSE_PASSWORD=... \
//   node console.mjs --url http://127.0.0.1:PORT --user ann --browse-user bob \
//     --screenshots DIR [--chromium /usr/bin/chromium]
//
// The passwords come from the environment, not the command line. The script
// exits 0 when every check passes; on the first failure it prints what was
// expected (and saves failure.png) and exits 1. Each step is printed as it
// starts, so a failure says where it happened.
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    user: { type: 'string' },
    'browse-user': { type: 'string' },
    screenshots: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    // The contoso user whose title the test changed, and the new title.
    mail: { type: 'string', default: 'grace.kim@contoso.test' },
    name: { type: 'string', default: 'Grace Kim' },
    title: { type: 'string', default: 'Sales Director' },
    // A tenant of the provider (idsync tenant add) whose page is opened.
    tenant: { type: 'string', default: 'northwind' },
  },
});
const password = process.env.IDSYNC_E2E_PASSWORD;
const browsePassword = process.env.IDSYNC_E2E_BROWSE_PASSWORD;
for (const [k, v] of Object.entries({ '--url': opt.url, '--user': opt.user, '--browse-user': opt['browse-user'],
  '--screenshots': opt.screenshots, IDSYNC_E2E_PASSWORD: password, IDSYNC_E2E_BROWSE_PASSWORD: browsePassword })) {
  if (!v) {
    console.error(`console.mjs: ${k} is required`);
    process.exit(2);
  }
}
const base = opt.url.replace(/\/$/, '');
const shots = opt.screenshots;
mkdirSync(shots, { recursive: true });

// A failed check: its message is all that is printed (no stack).
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

let n = 0;
async function shot(page, name) {
  n++;
  const file = path.join(shots, `${String(n).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

// The path of the page's URL.
const here = (page) => new URL(page.url()).pathname;

// checkNav checks that exactly the named section link of the navigation is
// marked as the current page.
async function checkNav(page, name) {
  const nav = page.getByRole('navigation', { name: 'Sections' });
  const current = nav.locator('a[aria-current="page"]');
  eq(await current.count(), 1, `links with aria-current=page in the navigation on ${here(page)}`);
  eq((await current.textContent()).trim(), name, `the current section on ${here(page)}`);
}

// h1 checks the page's heading.
async function h1(page, want) {
  eq((await page.getByRole('heading', { level: 1 }).textContent()).trim(), want, `the heading of ${here(page)}`);
}

// signIn fills the sign-in form through its labels and submits it with the
// keyboard (Enter in the password field).
async function signIn(page, user, pw) {
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(pw);
  await page.getByLabel('Password').press('Enter');
  await page.waitForLoadState('load');
}

// runRows returns the run history table's rows as objects.
async function runRows(page) {
  return page.locator('main table tbody tr').evaluateAll((trs) => trs
    .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()))
    .filter((c) => c.length === 10)
    .map((c) => ({ id: Number(c[0]), connector: c[1], profile: c[2], status: c[3], adds: c[6], updates: c[7], deletes: c[8], errors: c[9] })));
}

// runProfile starts a run profile of a connector from its page, then waits
// until the run history lists a new run of it that finished, and returns it.
async function runProfile(page, connector, profile) {
  await page.goto(`${base}/connectors/${connector}`);
  await h1(page, connector);
  const before = new Set((await runRows(page)).map((r) => r.id));
  await page.getByLabel('Run profile').selectOption(profile);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForLoadState('load');
  eq(here(page), `/connectors/${connector}`, 'the page after starting a run');
  eq((await page.getByRole('status').textContent()).trim(), `${profile} started`, 'the message after starting a run');
  await page.getByRole('link', { name: 'Run history' }).click();
  await checkNav(page, 'Run history');
  const deadline = Date.now() + 20000;
  for (;;) {
    const run = (await runRows(page)).find((r) => r.connector === connector && r.profile === profile && !before.has(r.id));
    if (run && run.status !== 'running') {
      eq(run.status, 'success', `the status of run ${run.id} (${profile} of ${connector})`);
      return run;
    }
    check(Date.now() < deadline, `the run history shows no finished ${profile} run of ${connector} 20 s after it was started`);
    await page.waitForTimeout(250);
    await page.reload();
  }
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
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  ctx.setDefaultTimeout(10000);
  page = await ctx.newPage();

  begin('signed out, the console sends to the sign-in page');
  await page.goto(`${base}/`);
  eq(here(page), '/login', 'where / goes before signing in');
  await h1(page, 'Sign in');
  await shot(page, 'login');

  begin('a wrong password is refused, and the error shows');
  await signIn(page, opt.user, password + ' wrong');
  eq(here(page), '/login', 'the page after a wrong password');
  const alert = page.getByRole('alert');
  eq((await alert.textContent()).trim(), 'Wrong user name or password.', 'the error after a wrong password');
  eq(await page.getByLabel('User name').inputValue(), opt.user, 'the user name kept in the form');
  await shot(page, 'login-error');

  begin('sign in as the admin (labels, Enter); the dashboard lists the connectors');
  await signIn(page, opt.user, password);
  eq(here(page), '/', 'the page after signing in');
  await h1(page, 'Dashboard');
  await checkNav(page, 'Dashboard');
  const conns = page.getByRole('region', { name: 'Connectors and applications' });
  for (const c of ['contoso', 'fabrikam', 'cloud']) {
    eq(await conns.getByRole('link', { name: c, exact: true }).count(), 1, `links to connector ${c} on the dashboard`);
  }
  check((await page.getByText(`${opt.user} (admin)`).count()) === 1, 'the header does not name the signed-in admin');
  await shot(page, 'dashboard');

  begin('contoso: full-import from its page reads the changed title; the run history shows it');
  await conns.getByRole('link', { name: 'contoso', exact: true }).click();
  await h1(page, 'contoso');
  await checkNav(page, 'Dashboard');
  await shot(page, 'connector');
  const imp = await runProfile(page, 'contoso', 'full-import');
  eq(imp.updates, '1', `updates of the full-import (run ${imp.id})`);

  begin('contoso: full-sync from its page; the run history shows it');
  const sync = await runProfile(page, 'contoso', 'full-sync');
  eq(sync.errors, '0', `errors of the full-sync (run ${sync.id})`);
  await page.getByRole('link', { name: String(sync.id), exact: true }).waitFor();
  await shot(page, 'runs');

  begin(`metaverse: search by mail for ${opt.mail}`);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Metaverse' }).click();
  await checkNav(page, 'Metaverse');
  await page.getByLabel('Attribute').fill('mail');
  await page.getByLabel('Value', { exact: true }).fill(opt.mail);
  await page.getByRole('button', { name: 'Search' }).click();
  const hit = page.locator('#results').getByRole('link', { name: opt.name, exact: true });
  await hit.waitFor();
  eq(await hit.count(), 1, `search results named ${opt.name}`);
  await shot(page, 'search');

  begin('the metaverse object: lineage of mail and the new title');
  await hit.click();
  await h1(page, opt.name);
  const lineage = async (attr) => {
    const row = page.locator('main table').first().locator('tbody tr', { has: page.getByRole('rowheader', { name: attr, exact: true }) });
    eq(await row.count(), 1, `rows of attribute ${attr} in the lineage table`);
    const cells = (await row.locator('td').allTextContents()).map((s) => s.trim());
    return { values: cells[0], connector: cells[1], rule: cells[2] };
  };
  const mail = await lineage('mail');
  eq(mail.values, opt.mail, 'the mail of the metaverse object');
  eq(mail.connector, 'contoso', 'the connector that contributed mail');
  eq(mail.rule, 'In from contoso - User', 'the rule that contributed mail');
  const title = await lineage('title');
  eq(title.values, opt.title, 'the title after the full-sync');
  eq(title.connector, 'contoso', 'the connector that contributed title');
  await shot(page, 'metaverse-object');

  begin('from the object, its contoso connector space object');
  const joined = page.locator('main table').nth(1).locator('tbody tr')
    .filter({ has: page.locator('td:first-child', { hasText: /^contoso$/ }) });
  eq(await joined.count(), 1, 'contoso rows in the connectors table');
  await joined.getByRole('link').click();
  eq(here(page), '/cs', 'the page of the connector space object');
  const csHead = (await page.getByRole('heading', { level: 1 }).textContent()).trim();
  check(csHead.startsWith('contoso: '), `the heading of the connector space object is ${JSON.stringify(csHead)}, not "contoso: ANCHOR"`);
  await checkNav(page, 'Metaverse');
  const csTitle = page.locator('main table').first().locator('tbody tr', { has: page.getByRole('rowheader', { name: 'title', exact: true }) });
  eq((await csTitle.locator('td').textContent()).trim(), opt.title, 'the title imported into the connector space');
  await shot(page, 'connector-space-object');

  begin('cloud: the pending exports show the new title, the CSV download has the header row, the object opens');
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Dashboard' }).click();
  await page.getByRole('region', { name: 'Connectors and applications' }).getByRole('link', { name: 'cloud', exact: true }).click();
  await h1(page, 'cloud');
  await page.getByRole('link', { name: /pending exports/ }).click();
  await h1(page, 'Pending exports: cloud');
  const pend = page.locator('main table tbody tr', { hasText: 'jobTitle' });
  eq(await pend.count(), 1, 'pending jobTitle changes of cloud');
  check((await pend.textContent()).includes(opt.title), `the pending jobTitle change lacks ${opt.title}`);
  await shot(page, 'pending-exports');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download as CSV' }).click(),
  ]);
  eq(download.suggestedFilename(), 'pending-cloud.csv', 'the name of the downloaded file');
  const csv = readFileSync(await download.path(), 'utf8').split(/\r?\n/).filter((l) => l !== '');
  eq(csv[0], 'connector,object,objectType,operation,attribute,change,oldValue,newValue,state,error', 'the CSV header row');
  check(csv.some((l) => l.includes(',jobTitle,') && l.includes(opt.title)), `the CSV has no jobTitle row with ${opt.title}:\n${csv.join('\n')}`);
  await pend.getByRole('link').click();
  const cloudHead = (await page.getByRole('heading', { level: 1 }).textContent()).trim();
  check(cloudHead.startsWith('cloud: '), `the pending export's object opens ${JSON.stringify(cloudHead)}, not "cloud: ANCHOR"`);
  check((await page.getByRole('heading', { name: 'Pending export' }).locator('xpath=following-sibling::table[1]').textContent()).includes(opt.title),
    `the cloud object's pending export lacks ${opt.title}`);

  begin('scheduler: the admin disables it');
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Scheduler' }).click();
  await checkNav(page, 'Scheduler');
  await page.getByRole('button', { name: 'Disable the scheduler' }).click();
  await page.waitForLoadState('load');
  eq((await page.getByRole('status').textContent()).trim(), 'Scheduler disabled', 'the message after disabling the scheduler');
  eq((await page.locator('dl.props dd').first().textContent()).trim(), 'disabled', 'the scheduler state');
  eq(await page.getByRole('button', { name: 'Enable the scheduler' }).count(), 1, 'buttons to enable the scheduler');
  await shot(page, 'scheduler-disabled');
  await page.getByRole('link', { name: 'Dashboard' }).click();
  check((await page.getByRole('region', { name: 'Scheduler' }).textContent()).includes('Disabled'), 'the dashboard does not say the scheduler is disabled');

  begin('applications: the admin turns crm\'s provisioning on and off again, and the page says so');
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Applications' }).click();
  await checkNav(page, 'Applications');
  await page.getByRole('main').getByRole('link', { name: 'crm', exact: true }).first().click();
  await h1(page, 'crm');
  const appState = async () => (await page.locator('#provisioning .state').textContent()).trim();
  eq(await appState(), 'off', 'the provisioning of crm as provisioning.yaml says');
  check((await page.locator('#provisioning').textContent()).includes('nothing is deprovisioned by turning it off'),
    'the application page does not say that turning provisioning off deprovisions nothing');
  await page.getByRole('button', { name: 'Turn provisioning on' }).click();
  await page.waitForLoadState('load');
  check((await page.locator('p.flash').textContent()).includes('Provisioning is on'), 'the message after turning provisioning on');
  eq(await appState(), 'on', 'the provisioning of crm after turning it on');
  await shot(page, 'application');
  await page.getByRole('button', { name: 'Turn provisioning off' }).click();
  await page.waitForLoadState('load');
  check((await page.locator('p.flash').textContent()).includes('nothing was deprovisioned'), 'the message after turning provisioning off');
  eq(await appState(), 'off', 'the provisioning of crm after turning it off');
  eq(await page.getByRole('button', { name: 'Turn provisioning on' }).count(), 1, 'buttons to turn provisioning on');

  begin('sign out');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForLoadState('load');
  eq(here(page), '/login', 'the page after signing out');
  await page.goto(`${base}/connectors/contoso`);
  eq(here(page), '/login', 'where a page goes after signing out');
  await ctx.close();

  begin('a browse user sees no run form and no CSV link, and gets 403 on the CSV');
  const bctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  bctx.setDefaultTimeout(10000);
  page = await bctx.newPage();
  await page.goto(`${base}/connectors/contoso`);
  await signIn(page, opt['browse-user'], browsePassword);
  eq(here(page), '/connectors/contoso', 'the page after signing in (it was asked for first)');
  await h1(page, 'contoso');
  eq(await page.getByLabel('Run profile').count(), 0, 'run profile fields for a browse user');
  eq(await page.getByRole('button', { name: 'Run', exact: true }).count(), 0, 'Run buttons for a browse user');
  eq(await page.getByRole('link', { name: 'Audit log' }).count(), 0, 'audit log links for a browse user');
  await shot(page, 'browse-connector');
  await page.goto(`${base}/connectors/cloud/pending`);
  await h1(page, 'Pending exports: cloud');
  eq(await page.locator('main table tbody tr', { hasText: 'jobTitle' }).count(), 1, 'pending jobTitle changes shown to a browse user');
  eq(await page.getByRole('link', { name: 'Download as CSV' }).count(), 0, 'CSV links for a browse user');
  await shot(page, 'browse-pending');
  const res = await bctx.request.get(`${base}/connectors/cloud/pending.csv`, { maxRedirects: 0 });
  eq(res.status(), 403, 'the status of the CSV for a browse user');
  await page.goto(`${base}/scheduler`);
  eq(await page.getByRole('button', { name: /the scheduler/ }).count(), 0, 'scheduler buttons for a browse user');

  begin('tenants: the list and a tenant page, read-only for a browse user');
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Tenants' }).click();
  await checkNav(page, 'Tenants');
  await h1(page, 'Tenants');
  await page.getByRole('main').getByRole('link', { name: opt.tenant }).click();
  await page.waitForLoadState('load');
  eq(here(page), `/tenants/${opt.tenant}`, 'the page of the tenant');
  await checkNav(page, 'Tenants');
  for (const h of ['Domains', 'Settings', 'Onboarding']) {
    eq(await page.getByRole('heading', { level: 2, name: h }).count(), 1, `the tenant page's heading ${h}`);
  }
  eq(await page.getByLabel('Add a domain').count(), 0, 'the add-domain field for a browse user');
  eq(await page.getByRole('button', { name: 'Discover' }).count(), 0, 'the Discover button for a browse user');
  await shot(page, 'browse-tenant');
  const sheet = await bctx.request.post(`${base}/tenants/${opt.tenant}/spreadsheet`, { maxRedirects: 0 });
  eq(sheet.status(), 403, 'the status of the spreadsheet for a browse user');
  await bctx.close();
  console.log(`ok: every check passed; screenshots in ${shots}`);
} catch (e) {
  failed = true;
  if (page && !page.isClosed()) await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  const where = page && !page.isClosed() ? ` (on ${page.url()})` : '';
  console.error(`FAIL: ${step}${where}:\n  ${e instanceof Check ? e.message : e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
