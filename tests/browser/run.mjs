// Browser tests of the kuota portal in a real Chromium (Debian's, driven by
// playwright-core): a purchase paid online through the simulated Billplz with
// no staff step, and forged returns refused; the six seed steps by a
// developer, a retail officer and a finance officer in three browser
// contexts, for bank transfer and for PO;
// validation errors; the language switch; another company's pages (404);
// axe-core on every page (no serious or critical violations); no missing
// words; a screenshot of every page.
//
// Usage: node tests/browser/run.mjs <kuota binary> ; env:
//   KUOTA_TEST_POSTGRES_URL  PostgreSQL server for the second run (default postgres://postgres@127.0.0.1:5432/postgres)
//   KUOTA_BROWSER_ARTIFACTS  where screenshots go (default target/browser-artifacts)
//   KUOTA_UPDATE_SCREENSHOTS=1  also copy the main ones to docs/screenshots

import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const binary = process.argv[2];
assert.ok(binary, 'usage: node tests/browser/run.mjs <kuota binary>');
const artifacts = process.env.KUOTA_BROWSER_ARTIFACTS ?? join(root, 'target', 'browser-artifacts');
const axeSource = readFileSync(join(root, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const postgresServer = process.env.KUOTA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'demo-kuota-2026';
const MAIN_SCREENSHOTS = ['register-errors', 'retail-registrations', 'admin', 'developer-dashboard', 'developer-new-request-errors', 'developer-request-quoted',
  'retail-queue', 'retail-request-payment', 'finance-overview', 'developer-request-completed', 'developer-ledger',
  'developer-dashboard-375'];

let failures = 0;
let checks = 0;

/** Starts `kuota serve --demo` on a fresh database; resolves with its address. */
async function startServer(backend) {
  const dataDir = mkdtempSync(join(tmpdir(), `kuota-browser-${backend}-`));
  const env = { ...process.env, KUOTA_DATA_DIR: dataDir, KUOTA_LISTEN: '127.0.0.1:0', RUST_LOG: 'warn' };
  let dropDatabase = () => {};
  if (backend === 'postgres') {
    const name = `kuota_browser_${process.pid}_${Date.now()}`;
    execFileSync('psql', [postgresServer, '-q', '-c', `CREATE DATABASE ${name}`]);
    const url = new URL(postgresServer);
    url.pathname = `/${name}`;
    env.KUOTA_DATABASE_URL = url.toString();
    dropDatabase = () => { try { execFileSync('psql', [postgresServer, '-q', '-c', `DROP DATABASE ${name} WITH (FORCE)`]); } catch { /* best effort */ } };
  }
  const child = spawn(binary, ['serve', '--demo'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const address = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`kuota exited with ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`kuota did not start: ${out}`)), 60_000);
  });
  return { address, stop: () => { child.kill('SIGTERM'); dropDatabase(); rmSync(dataDir, { recursive: true, force: true }); } };
}

/** Runs axe-core and the missing-word check on the page; saves a screenshot. */
async function inspect(page, name, backend) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  checks += 1;
  assert.deepEqual(result, [], `axe on ${name}`);
  const text = await page.content();
  assert.ok(!text.includes('⟦'), `a missing word on ${name}`);
  const file = join(artifacts, backend, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (backend === 'sqlite' && process.env.KUOTA_UPDATE_SCREENSHOTS === '1' && MAIN_SCREENSHOTS.includes(name)) {
    copyFileSync(file, join(root, 'docs', 'screenshots', `${name}.png`));
  }
}

async function signIn(browser, address, email, language, password = PASSWORD) {
  const context = await browser.newContext({ baseURL: address, viewport: { width: 1280, height: 900 }, locale: 'ms-MY', timezoneId: 'Asia/Kuala_Lumpur' });
  const page = await context.newPage();
  await page.goto('/login');
  if (language === 'en') {
    await page.getByRole('link', { name: 'English' }).click();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
  }
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.getByRole('button', { name: language === 'en' ? 'Sign in' : 'Log masuk' }).click();
  return page;
}

async function requestIdFromUrl(page) {
  const match = page.url().match(/\/requests\/(\d+)/);
  assert.ok(match, `on a request page: ${page.url()}`);
  return match[1];
}

async function status(page) {
  return page.getAttribute('h1[data-status]', 'data-status');
}

/** Straight through: the developer submits, is quoted at list price at once,
 * pays on the (simulated) Billplz page in the same browser and comes back
 * through the signed redirect to credited quota and the invoice — no retail
 * or finance sign-in in between. Then the refused cases. */
async function onlinePurchase({ developer, backend }) {
  await developer.goto('/requests/new');
  await developer.fill('#units-CERT-1Y', '7');
  await developer.getByRole('button', { name: 'Hantar permohonan' }).click();
  const id = await requestIdFromUrl(developer);
  const number = (await developer.textContent('h1')).trim().split(/\s+/)[0];
  assert.equal(await status(developer), 'quoted', 'quoted at list price at once');
  await inspect(developer, 'developer-request-pay-online', backend);
  await developer.getByRole('button', { name: 'Bayar dalam talian (FPX / kad)' }).click();
  await developer.waitForURL(/\/demo\/billplz\/bills\/[a-z0-9]+$/);
  assert.match(await developer.textContent('body'), /SIMULASI/);
  assert.equal((await developer.textContent('#amount')).trim(), 'RM 378.00', '7 × RM 50.00 + 8% SST');
  await developer.getByRole('button', { name: /Bayar \(FPX simulasi\)/ }).click();
  // The page drops `?done=…` from the address once it shows the flash.
  await developer.waitForURL(new RegExp(`/requests/${id}(\\?done=pay-online-returned)?$`));
  assert.equal(await status(developer), 'completed', 'credited and invoiced with no staff step');
  assert.match(await developer.textContent('.flash'), /Bayaran diterima melalui Billplz/);
  await inspect(developer, 'developer-request-paid-online', backend);
  const invoice = await developer.locator('a[href^="/api/v1/documents/INV-"]').getAttribute('href');
  const pdf = await developer.request.get(invoice);
  assert.equal(pdf.headers()['content-type'], 'application/pdf');
  await developer.goto('/ledger');
  assert.ok((await developer.textContent('table.data')).includes(number), 'the credit is in the ledger');
  // A forged return and a callback without Billplz's signature change nothing.
  const forged = await developer.goto('/payments/billplz/return?billplz%5Bid%5D=x&billplz%5Bpaid%5D=true&billplz%5Bx_signature%5D=00');
  assert.equal(forged.status(), 400);
  assert.match(await developer.textContent('main'), /tandatangan Billplz/);
  await inspect(developer, 'payment-return-forged', backend);
  const callback = await developer.request.post('/api/v1/payment-gateways/billplz/callback',
    { form: { id: 'x', paid: 'true', state: 'paid', x_signature: 'bad' } });
  assert.equal(callback.status(), 401);
  return id;
}

/** The six seed steps for one payment method; returns the request id. */
async function purchase({ developer, retail, finance, backend, method, shots }) {
  // Step 2: the developer asks for quota.
  await developer.goto('/requests/new');
  await developer.fill('#units-CERT-1Y', '12');
  await developer.fill('#note', `Ujian pelayar ${method}`);
  await developer.getByRole('button', { name: 'Hantar permohonan' }).click();
  const id = await requestIdFromUrl(developer);
  assert.equal(await status(developer), 'submitted');
  assert.match(await developer.textContent('.flash'), /Permohonan dihantar/);
  const number = (await developer.textContent('h1')).trim().split(/\s+/)[0];
  // Step 3: retail finds it in the queue and issues the quotation.
  await retail.goto(`/requests?q=${number}`);
  if (shots) await inspect(retail, 'retail-queue', backend);
  await retail.getByRole('link', { name: number }).click();
  assert.equal(await retail.textContent('#preview-total'), 'RM 648.00', 'the preview at today\'s prices');
  await retail.fill('#discount', '10');
  assert.equal(await retail.textContent('#preview-total'), 'RM 583.20', '600 − 60 + 8% of 540, as the server computes');
  await retail.fill('#discount', '');
  await retail.getByRole('button', { name: 'Keluarkan sebut harga' }).click();
  assert.equal(await status(retail), 'quoted');
  // Step 4: the developer sends the PO or proof of payment.
  await developer.reload();
  assert.equal(await status(developer), 'quoted');
  if (shots) await inspect(developer, 'developer-request-quoted', backend);
  const total = (await developer.locator('#quotation-title ~ div td.num strong').first().textContent()).replace(/[^0-9.]/g, '');
  assert.equal(total, '648.00', '12 × RM 50.00 + 8% SST');
  await developer.selectOption('#method', method);
  await developer.fill('#reference', `${method === 'po' ? 'PO' : 'TRX'}-BROWSER-${id}`);
  await developer.fill('#amount', total);
  await developer.fill('#paid_on', new Date().toISOString().slice(0, 10));
  await developer.setInputFiles('#document', { name: 'bukti.pdf', mimeType: 'application/pdf', buffer: Buffer.from(`%PDF-1.4\n% ${method} ${id}\n%%EOF\n`) });
  await developer.getByRole('button', { name: 'Hantar PO atau bukti pembayaran' }).click();
  assert.equal(await status(developer), 'payment_submitted');
  // Step 5: retail verifies the payment with the document shown beside it.
  await retail.reload();
  assert.ok(await retail.locator('a[href$="/document"]').count() >= 1, 'the proof can be opened from the request');
  if (shots) await inspect(retail, 'retail-request-payment', backend);
  await retail.getByRole('button', { name: 'Sahkan pembayaran dan kreditkan kuota' }).click();
  assert.equal(await status(retail), 'credited');
  // Step 5 (finance): invoice and DO.
  await finance.goto('/finance');
  if (shots) await inspect(finance, 'finance-overview', backend);
  await finance.getByRole('button', { name: `Keluarkan invois dan DO · ${number}` }).click();
  assert.match(await finance.textContent('.flash'), /Invois dan DO dikeluarkan/);
  // Step 6: the developer sees the request completed, with its documents.
  await developer.goto(`/requests/${id}`);
  assert.equal(await status(developer), 'completed');
  assert.equal(await developer.locator('#documents-title ~ ul a[href$=".pdf"]').count(), 3, 'quotation, invoice and DO');
  if (shots) await inspect(developer, 'developer-request-completed', backend);
  const pdf = await developer.request.get(await developer.locator('a[href^="/api/v1/documents/INV-"]').getAttribute('href'));
  assert.equal(pdf.headers()['content-type'], 'application/pdf');
  if (method === 'po') {
    await finance.goto('/finance');
    assert.ok((await finance.textContent('#receivables-title ~ div')).includes(number), 'the unpaid PO invoice is a receivable');
  }
  return id;
}

async function run(backend) {
  mkdirSync(join(artifacts, backend), { recursive: true });
  const server = await startServer(backend);
  const browser = await chromium.launch({
    executablePath: process.env.KUOTA_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const anonymous = await (await browser.newContext({ baseURL: server.address, locale: 'ms-MY', timezoneId: 'Asia/Kuala_Lumpur' })).newPage();
    await anonymous.goto('/requests');
    assert.match(anonymous.url(), /\/login\?next=\/requests$/, 'signed-out visitors are sent to sign in');
    await inspect(anonymous, 'login', backend);
    await anonymous.fill('#email', 'pemaju@majujaya.demo.kuota.my');
    await anonymous.fill('#password', 'wrong password');
    await anonymous.getByRole('button', { name: 'Log masuk' }).click();
    assert.match(await anonymous.textContent('.error-summary'), /E-mel atau kata laluan salah/);
    assert.equal(await anonymous.inputValue('#email'), 'pemaju@majujaya.demo.kuota.my', 'the form keeps what was typed');

    const developer = await signIn(browser, server.address, 'pemaju@majujaya.demo.kuota.my', 'ms');
    const retail = await signIn(browser, server.address, 'retail@demo.kuota.my', 'ms');
    const finance = await signIn(browser, server.address, 'finance@demo.kuota.my', 'ms');
    assert.match(developer.url(), /\/dashboard$/);
    await inspect(developer, 'developer-dashboard', backend);
    await inspect(retail, 'retail-queue-all', backend);
    // The staff queue: open requests, the most overdue first.
    const cells = (await retail.locator('table.data tbody tr td:nth-child(5)').allTextContents()).map((t) => t.trim());
    const firstUndated = cells.findIndex((t) => t === '');
    assert.ok(firstUndated > 0, `a request waiting for information is in the queue, at the end: ${cells}`);
    assert.ok(cells.slice(firstUndated).every((t) => t === ''), 'undated requests come last');
    const dues = cells.slice(0, firstUndated).map((text) => text.slice(0, 10).split('/').reverse().join('-'));
    assert.ok(dues.length >= 5 && dues.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d)), `due dates: ${dues}`);
    assert.deepEqual(dues, [...dues].sort(), 'sorted by due date');
    assert.ok((await retail.textContent('table.data')).includes('Maklumat diperlukan'), 'the info-requested request is listed');
    assert.equal(await retail.locator('table.data tbody tr').first().locator('.badge.danger').count(), 1, 'the first is overdue');

    // Validation errors beside the field, in Malay, keeping what was typed.
    await developer.goto('/requests/new');
    await developer.fill('#units-CERT-1Y', 'sepuluh');
    await developer.getByRole('button', { name: 'Hantar permohonan' }).click();
    assert.match(await developer.textContent('#error-CERT-1Y'), /nombor bulat/);
    assert.equal(await developer.inputValue('#units-CERT-1Y'), 'sepuluh');
    assert.equal(await developer.getAttribute('#units-CERT-1Y', 'aria-invalid'), 'true');
    await inspect(developer, 'developer-new-request-errors', backend);

    await onlinePurchase({ developer, backend });

    // The seed's manual steps, with straight-through turned off by an administrator.
    const admin = await signIn(browser, server.address, 'admin@demo.kuota.my', 'ms');
    await admin.goto('/admin');
    assert.ok(await admin.isChecked('#setting-instant_quotation'), 'instant quotation is on by default');
    await admin.uncheck('#setting-instant_quotation');
    await admin.uncheck('#setting-invoice_on_credit');
    await admin.getByRole('button', { name: 'Simpan tetapan' }).click();
    assert.match(await admin.textContent('.flash'), /Tetapan disimpan/);

    const first = await purchase({ developer, retail, finance, backend, method: 'bank_transfer', shots: true });
    await purchase({ developer, retail, finance, backend, method: 'po', shots: false });

    // The ledger shows the credits; the CSV export downloads.
    await developer.goto('/ledger');
    assert.ok((await developer.locator('table.data tbody tr').count()) > 10);
    await inspect(developer, 'developer-ledger', backend);
    const csv = await developer.request.get('/ledger.csv');
    assert.match(await csv.text(), /^id,time_kuala_lumpur,kind,product,units,reference,actor/);

    // Every document of the company in one list.
    await developer.goto('/documents');
    assert.ok((await developer.locator('table.data tbody tr').count()) >= 6, 'two purchases: quotation, invoice and DO each');
    await inspect(developer, 'developer-documents', backend);
    // The demo's invoices become e-invoices at its simulated MyInvois (the job runs every 3 s).
    let listed = '';
    for (let attempt = 0; attempt < 30 && !listed.includes('Sah'); attempt += 1) {
      await developer.waitForTimeout(1000);
      await developer.goto('/documents');
      listed = await developer.textContent('table.data');
    }
    assert.match(listed, /Sah/, 'an invoice validated by the simulated MyInvois');

    // Another company's request and the finance workspace are not there for this developer.
    const other = await signIn(browser, server.address, 'developer@tamanindah.demo.kuota.my', 'en');
    assert.equal(await other.getAttribute('html', 'lang'), 'en', 'this user reads English');
    const foreign = await other.goto(`/requests/${first}`);
    assert.equal(foreign.status(), 404);
    assert.match(await other.textContent('h1'), /Not found/);
    await inspect(other, 'developer-other-company-404', backend);
    const foreignPdf = await other.request.get(`/api/v1/payments/1/document`);
    assert.equal(foreignPdf.status(), 404);
    assert.equal((await other.goto('/finance')).status(), 404);

    // The language switch, kept with the account.
    await developer.goto('/dashboard');
    await developer.getByRole('button', { name: 'English' }).click();
    assert.equal(await developer.getAttribute('html', 'lang'), 'en');
    assert.match(await developer.textContent('h1'), /Dashboard/);
    await developer.goto('/requests');
    assert.match(await developer.textContent('h1'), /Requests/);
    await inspect(developer, 'developer-requests-en', backend);
    await developer.getByRole('button', { name: 'Bahasa Melayu' }).click();
    assert.equal(await developer.getAttribute('html', 'lang'), 'ms');

    // A form without its CSRF token is refused.
    const forged = await developer.request.post(`/requests/${first}/cancel`, { form: { reason: 'forged' } });
    assert.equal(forged.status(), 403);

    // Narrow screens: no horizontal scrolling.
    await developer.setViewportSize({ width: 375, height: 800 });
    await developer.goto('/dashboard');
    const overflow = await developer.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the dashboard scrolls sideways by ${overflow}px at 375px`);
    await inspect(developer, 'developer-dashboard-375', backend);

    // Seed step 1: a company registers itself; the retail team verifies it.
    const visitor = await (await browser.newContext({ baseURL: server.address, locale: 'ms-MY', timezoneId: 'Asia/Kuala_Lumpur' })).newPage();
    await visitor.goto('/login');
    await visitor.getByRole('link', { name: 'Belum berdaftar? Daftar syarikat anda' }).click();
    await visitor.fill('#registration_no', '12345');
    await visitor.getByRole('button', { name: 'Hantar pendaftaran' }).click();
    assert.match(await visitor.textContent('#error-registration_no'), /SSM 12 digit/);
    assert.equal(await visitor.inputValue('#registration_no'), '12345', 'the form keeps what was typed');
    await inspect(visitor, 'register-errors', backend);
    const fields = { company_name: 'Bina Harmoni Sdn. Bhd.', registration_no: '202101000034', developer_code: 'PMJ-9',
      address: 'No. 9, Jalan Harmoni, 50450 Kuala Lumpur', postcode: '50450', contact_person: 'Siti Aminah',
      email: 'akaun@binaharmoni.my', phone: '012-345 6789', user_name: 'Siti Aminah', user_email: 'siti@binaharmoni.my',
      user_password: 'kata-laluan-siti-1' };
    for (const [name, value] of Object.entries(fields)) await visitor.fill(`#${name}`, value);
    await visitor.selectOption('#state', '14');
    // The personal-data notice is a page of its own, acknowledged with the registration.
    await visitor.check('#privacy_notice_acknowledged');
    await visitor.getByRole('button', { name: 'Hantar pendaftaran' }).click();
    assert.match(await visitor.textContent('.flash'), /Pendaftaran diterima/);
    // Before verification the company signs in but cannot request quota yet.
    const siti = await signIn(browser, server.address, 'siti@binaharmoni.my', 'ms', 'kata-laluan-siti-1');
    assert.match(siti.url(), /\/dashboard$/);
    assert.match(await siti.textContent('.flash.warn'), /sedang disemak/);
    await siti.goto('/requests/new');
    assert.equal(await siti.locator('form.form').count(), 0, 'no request form before verification');
    await retail.goto('/developers');
    await inspect(retail, 'retail-registrations', backend);
    await retail.getByRole('button', { name: 'Sahkan · PMJ-9' }).click();
    assert.match(await retail.textContent('.flash'), /Pendaftaran disahkan/);
    await siti.reload();
    assert.equal(await siti.locator('form.form').count(), 1, 'the verified company can request quota');

    // Retail corrects a balance with a reason.
    await retail.selectOption('#adjust-developer', 'PMJ-1');
    await retail.selectOption('#adjust-product', 'CERT-1M');
    await retail.fill('#adjust-units', '0');
    await retail.getByRole('button', { name: 'Rekod pelarasan' }).click();
    assert.match(await retail.textContent('.error-summary'), /bukan sifar/);
    await retail.selectOption('#adjust-developer', 'PMJ-1');
    await retail.selectOption('#adjust-product', 'CERT-1M');
    await retail.fill('#adjust-units', '5');
    await retail.fill('#adjust-reason', 'Ganti sijil rosak');
    await retail.getByRole('button', { name: 'Rekod pelarasan' }).click();
    assert.match(await retail.textContent('.flash'), /Pelarasan direkodkan/);

    // Finance sees monthly sales and exports them.
    await finance.goto('/finance');
    assert.ok((await finance.textContent('#sales-title ~ div table')).includes('CERT-1Y'));
    const sales = await finance.request.get('/finance/sales.csv');
    assert.match(await sales.text(), /^month,product,units,amount_before_discount_and_sst_rm\r\n\d{4}-\d{2},CERT-1/);

    // Finance corrects an invoice with a credit note from its page; a refused one says why beside the units.
    await finance.goto('/finance');
    await finance.fill('#find-invoice', 'inv-2026-000001');
    await finance.getByRole('button', { name: 'Cari invois' }).click();
    await finance.waitForURL(/\/finance\/invoices\/INV-2026-000001$/);
    await inspect(finance, 'finance-invoice', backend);
    await finance.selectOption('#note-product', 'CERT-1Y');
    await finance.fill('#note-units', '1000000');
    await finance.fill('#note-reason', 'Unit berlebihan dipesan');
    await finance.getByRole('button', { name: 'Keluarkan nota' }).click();
    assert.match(await finance.textContent('#units-error'), /unit lagi yang boleh diambil semula/);
    assert.equal(await finance.inputValue('#note-reason'), 'Unit berlebihan dipesan', 'the form keeps what was typed');
    await inspect(finance, 'finance-invoice-refused', backend);
    await finance.fill('#note-units', '1');
    await finance.getByRole('button', { name: 'Keluarkan nota' }).click();
    assert.match(await finance.textContent('.flash'), /Nota dikeluarkan/);
    assert.ok((await finance.textContent('#notes-title ~ div')).includes('CN-2026-000001'));

    // Forgotten password: the same answer whether or not the address is known.
    await visitor.goto('/password/forgot');
    await inspect(visitor, 'password-forgot', backend);
    await visitor.fill('#email', 'tiada@sesiapa.my');
    await visitor.getByRole('button', { name: 'Hantar pautan' }).click();
    assert.match(await visitor.textContent('.flash'), /Jika e-mel ini berdaftar/);

    // Company users and personal tokens.
    await developer.goto('/company');
    await developer.fill('#invite-name', 'Ahmad Kamal');
    await developer.fill('#invite-email', 'bukan-emel');
    await developer.getByRole('button', { name: 'Hantar jemputan' }).click();
    assert.match(await developer.textContent('#invite-email-error'), /e-mel yang sah/);
    await developer.fill('#invite-email', 'ahmad@majujaya.demo.kuota.my');
    await developer.getByRole('button', { name: 'Hantar jemputan' }).click();
    assert.match(await developer.textContent('.flash'), /Jemputan dihantar/);
    assert.ok((await developer.textContent('table.data')).includes('ahmad@majujaya.demo.kuota.my'));
    await inspect(developer, 'developer-company', backend);
    await developer.goto('/tokens');
    await developer.getByRole('button', { name: 'Cipta token baharu' }).click();
    const token = (await developer.textContent('#new-token')).trim();
    const balances = await developer.request.get('/api/v1/developers/PMJ-1/balances', { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(balances.status(), 200, 'the new token works on the API');
    await inspect(developer, 'developer-tokens', backend);

    // Administration: a wrong setting is refused beside its field.
    await admin.goto('/admin');
    await inspect(admin, 'admin', backend);
    await admin.fill('#setting-seller-tin', 'C12');
    await admin.getByRole('button', { name: 'Simpan tetapan' }).click();
    assert.match(await admin.textContent('#setting-seller-tin-error'), /TIN/);
    assert.equal(await admin.inputValue('#setting-seller-tin'), 'C12');
    await admin.fill('#setting-seller-tin', 'C10000000000');
    await admin.getByRole('button', { name: 'Simpan tetapan' }).click();
    assert.match(await admin.textContent('.flash'), /Tetapan disimpan/);
    // A new SST rate from tomorrow joins the history; the earlier ones stay.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await admin.fill('#sst-rate', '10');
    await admin.fill('#sst-from', tomorrow);
    await admin.getByRole('button', { name: 'Tambah kadar' }).click();
    assert.match(await admin.textContent('.flash'), /Kadar SST ditambah/);
    assert.equal(await admin.locator('#sst-title ~ div table tbody tr').count(), 3);
    await admin.fill('#client-name', 'HIMS ujian');
    await admin.getByRole('button', { name: 'Cipta klien API' }).click();
    const clientToken = (await admin.textContent('#new-token')).trim();
    const asHims = await admin.request.get('/api/v1/developers/PMJ-1/balances', { headers: { Authorization: `Bearer ${clientToken}` } });
    assert.equal(asHims.status(), 200, 'the new client reads balances');
    await admin.getByRole('button', { name: /^Batalkan token #/ }).click();
    assert.match(await admin.textContent('.flash'), /Klien API dibatalkan/);
    const revoked = await admin.request.get('/api/v1/developers/PMJ-1/balances', { headers: { Authorization: `Bearer ${clientToken}` } });
    assert.equal(revoked.status(), 401, 'a revoked client is refused at once');

    // Sign out ends the session.
    await developer.getByRole('button', { name: 'Log keluar' }).click();
    await developer.goto('/dashboard');
    assert.match(developer.url(), /\/login/);
  } finally {
    await browser.close();
    server.stop();
  }
}

for (const backend of ['sqlite', 'postgres']) {
  const started = Date.now();
  try {
    await run(backend);
    console.log(`browser tests on ${backend}: ok (${checks} pages checked, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failures += 1;
    console.error(`browser tests on ${backend}: FAILED\n${error.stack ?? error}`);
  }
}
process.exit(failures === 0 ? 0 : 1);
