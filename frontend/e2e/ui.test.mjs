// End-to-end tests of the web UI in real headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core; no browser is ever downloaded). They start the built bin/talos-backend on
// a free port with a fresh data directory, sign in as the first administrator, and register and
// run a real bin/talos-satellite (simulated rotator and radio), as `make run` does. Run by
// `make test` after `make build` (make test-ui alone re-runs them). docs/ui.md describes them.
//
// Without chromium (or the built binaries) the tests skip; under TALOS_REQUIRE_INTEGRATION=1
// that is a failure. Measurements (the 1,000-station page, SSE latency) are printed, not
// asserted beyond generous bounds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createServer } from 'node:net'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'

const run = promisify(execFile)
const require = createRequire(import.meta.url)
const root = path.resolve(import.meta.dirname, '../..')
const bin = (name) => path.join(root, 'bin', name)
const chromiumPath = process.env.TALOS_CHROMIUM || '/usr/bin/chromium'
const shots = path.join(root, 'docs', 'screenshots')
const required = process.env.TALOS_REQUIRE_INTEGRATION === '1'
const ADMIN = 'admin@talos.local'
const PASSWORD = 'e2e admin password 2026'
const VIEWER = 'viewer@e2e.test'
const VIEWER_PASSWORD = 'e2e viewer password 2026'
const desktop = { width: 1280, height: 800 }
// Two element sets from the shared CelesTrak archive (epochs 2026-06-26).
const TLE = `ISS (ZARYA)
1 25544U 98067A   26177.67101756  .00008101  00000+0  15268-3 0  9990
2 25544  51.6322 253.1475 0004299 235.1263 124.9322 15.49442433573225
SWISSCUBE
1 35932U 09051B   26177.47338387  .00000909  00000+0  18915-3 0  9997
2 35932  98.4029  85.5233 0006640 172.3713 187.7590 14.62497638890512
`
const phone = { width: 390, height: 844 }

function missing() {
  if (!existsSync(chromiumPath)) return `no chromium at ${chromiumPath} (Debian: apt-get install chromium)`
  for (const b of ['talos-backend', 'talos-satellite']) {
    if (!existsSync(bin(b))) return `no ${bin(b)}: run make build first`
  }
  return ''
}

const why = missing()
if (why && required) {
  test('web UI end to end', () => assert.fail(`TALOS_REQUIRE_INTEGRATION=1 but ${why}`))
} else if (why) {
  test('web UI end to end', { skip: why }, () => {})
} else {
  test('web UI end to end', { timeout: 10 * 60_000 }, async (t) => {
    const env = await startEnv(t)
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
        '--no-first-run', '--disable-component-update', '--disable-sync'],
    })
    t.after(() => browser.close())
    const ctx = await browser.newContext({ viewport: desktop, baseURL: env.url })
    const page = await watched(ctx, env)
    const a11y = []
    // A failed step prints what the backend and the station said.
    const step = (name, fn) =>
      t.test(name, async () => {
        try {
          await fn()
        } catch (e) {
          console.log(`--- talos-backend and talos-satellite output:\n${env.log.join('').slice(-20_000)}`)
          throw e
        }
      })

    await step('the administrator signs in and must change the password first', async () => {
      await page.goto('/')
      await page.waitForURL(/\/login\?next=/)
      await checkA11y(page, 'login', a11y)
      await shoot(page, 'login')
      await page.getByLabel('Email').fill(ADMIN)
      await page.getByLabel('Password').fill(env.adminPassword)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.waitForURL(/\/password/)
      await page.getByLabel('Current password').fill(env.adminPassword)
      await page.getByLabel('New password (at least 12 characters)').fill(PASSWORD)
      await page.getByLabel('New password again').fill(PASSWORD)
      await page.getByRole('button', { name: 'Change password' }).click()
      await page.waitForURL(/\/stations$/)
      await page.getByText('No stations yet').waitFor()
      env.teamId = await teamIdOf(page, 'E2E team')
    })

    let token = ''
    await step('a team token is created, shown once with the register line', async () => {
      await page.getByRole('link', { name: 'Tokens' }).click()
      await page.getByLabel('Name').fill('e2e roof')
      await page.getByLabel('Valid for').selectOption('1h')
      await page.getByRole('button', { name: 'Create token' }).click()
      token = await page.locator('[data-test=token-value]').inputValue()
      assert.match(token, /\S{20,}/)
      const line = await page.locator('[data-test=register-line]').textContent()
      assert.match(line, /talos-satellite register --backend http:\/\/127\.0\.0\.1:\d+ /)
      assert.ok(line.includes(token))
      await page.locator('[data-test=tokens] tbody tr', { hasText: 'e2e roof' }).waitFor()
      await checkA11y(page, 'tokens', a11y)
      await shoot(page, 'tokens')
    })

    let stationId = ''
    await step('a real talos-satellite registers and turns online on the page without a reload', async () => {
      await page.getByRole('link', { name: 'Stations', exact: true }).click()
      await page.getByText('No stations yet').waitFor()
      await page.evaluate(() => (window.__sameDocument = true))
      await env.startStation(token)
      const row = page.locator('tr[data-station]', { hasText: 'E2E station' })
      await row.locator('[data-test=status]', { hasText: 'online' }).waitFor({ timeout: 60_000 })
      // The heartbeat's "what it does now" arrives through the live feed too.
      await row.locator('[data-test=activity]', { hasText: 'idle' }).waitFor({ timeout: 60_000 })
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded')
      stationId = await row.getAttribute('data-station')
      await checkA11y(page, 'stations', a11y)
      await shoot(page, 'stations')
    })

    await step('a ping is sent from the station page and succeeds', async () => {
      await page.getByRole('link', { name: 'E2E station' }).click()
      await page.waitForURL(new RegExp(`/stations/${stationId}$`))
      await page.getByRole('button', { name: 'Ping' }).click()
      const row = page.locator('[data-test=commands] tbody tr', { hasText: 'ping' }).first()
      await row.locator('[data-test=command-status]', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 })
      await checkA11y(page, 'station', a11y)
      await shoot(page, 'station')
    })

    await step('the audit log shows what was done', async () => {
      await page.getByRole('link', { name: 'Audit' }).click()
      await page.locator('[data-test=audit] tbody tr', { hasText: 'command.create' }).first().waitFor()
      await checkA11y(page, 'audit', a11y)
      await shoot(page, 'audit')
    })

    await step('the catalog is searched and the passes over the station are listed', async () => {
      await env.importCatalog(TLE)
      await page.getByRole('link', { name: 'Catalog' }).click()
      await page.getByLabel('Name or NORAD id').fill('ISS')
      await page.getByRole('button', { name: 'Search' }).click()
      const row = page.locator('[data-test=catalog] tbody tr', { hasText: '25544' })
      await row.waitFor()
      assert.match(await row.textContent(), /ISS \(ZARYA\)/)
      assert.match(await row.textContent(), /stale/, 'an element set from June is stale')
      await checkA11y(page, 'catalog', a11y)
      await shoot(page, 'catalog')
      await page.getByRole('link', { name: 'Passes' }).click()
      await page.getByLabel('Next').selectOption('24')
      await page.getByLabel('Minimum elevation (°)').fill('0')
      await page.getByRole('button', { name: 'Show' }).click()
      await page.locator('[data-test=passes] tbody tr', { hasText: 'E2E station' }).first().waitFor({ timeout: 60_000 })
      await checkA11y(page, 'passes', a11y)
      await shoot(page, 'passes')
    })

    await step('a viewer sees no controls, and the API refuses them', async () => {
      await env.backendCLI(['user', 'create', '--email', VIEWER, '--password-stdin'], VIEWER_PASSWORD + '\n')
      const me = await (await page.request.get('/api/me')).json()
      const r = await page.request.post(`/api/teams/${env.teamId}/members`, {
        data: { email: VIEWER, role: 'viewer' },
        headers: { 'X-CSRF-Token': me.auth.csrf_token },
      })
      assert.equal(r.status(), 201, await r.text())

      const vctx = await browser.newContext({ viewport: desktop, baseURL: env.url })
      const vpage = await watched(vctx, env)
      await vpage.goto(`/stations/${stationId}`)
      await vpage.waitForURL(/\/login\?next=/)
      await vpage.getByLabel('Email').fill(VIEWER)
      await vpage.getByLabel('Password').fill(VIEWER_PASSWORD)
      await vpage.getByRole('button', { name: 'Sign in' }).click()
      await vpage.waitForURL(/\/(password|stations)/)
      if (vpage.url().includes('/password')) {
        await vpage.getByLabel('Current password').fill(VIEWER_PASSWORD)
        await vpage.getByLabel('New password (at least 12 characters)').fill(VIEWER_PASSWORD + '!')
        await vpage.getByLabel('New password again').fill(VIEWER_PASSWORD + '!')
        await vpage.getByRole('button', { name: 'Change password' }).click()
      }
      // Back to the page asked for, after the sign-in.
      await vpage.waitForURL(new RegExp(`/stations/${stationId}$`))
      await vpage.getByRole('heading', { name: /E2E station/ }).waitFor()
      assert.equal(await vpage.locator('[data-test=role]').textContent(), 'viewer')
      assert.equal(await vpage.locator('[data-test=controls]').count(), 0)
      assert.equal(await vpage.getByRole('button', { name: 'Ping' }).count(), 0)
      assert.equal(await vpage.getByRole('link', { name: 'Tokens' }).count(), 0)
      const vme = await (await vpage.request.get('/api/me')).json()
      const refused = await vpage.request.post(`/api/teams/${env.teamId}/satellites/${stationId}/commands`, {
        data: { type: 'ping', priority: 'immediate' },
        headers: { 'X-CSRF-Token': vme.auth.csrf_token },
      })
      assert.equal(refused.status(), 403, await refused.text())
      await vctx.close()
    })

    await step('an expired session returns to the login page and back', async () => {
      await ctx.clearCookies()
      await page.getByRole('link', { name: 'Stations', exact: true }).click()
      await page.waitForURL(/\/stations$/)
      await page.getByRole('link', { name: 'Audit' }).click()
      await page.waitForURL(/\/login\?next=(%2F|\/)audit$/)
      await page.getByLabel('Email').fill(ADMIN)
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.waitForURL(/\/audit$/)
      await page.locator('[data-test=audit] tbody tr', { hasText: 'command.create' }).first().waitFor()
    })

    await step('phone width screenshots', async () => {
      const pctx = await browser.newContext({ viewport: phone, baseURL: env.url, storageState: await ctx.storageState() })
      const ppage = await watched(pctx, env)
      for (const [name, url] of [['stations', '/stations'], ['station', `/stations/${stationId}`], ['tokens', '/tokens'], ['audit', '/audit'], ['passes', '/passes']]) {
        await ppage.goto(url)
        await ppage.locator('main h1').first().waitFor()
        await ppage.waitForLoadState('networkidle').catch(() => {})
        await shoot(ppage, name, 'phone')
      }
      await pctx.close()
      const lctx = await browser.newContext({ viewport: phone, baseURL: env.url })
      const lpage = await watched(lctx, env)
      await lpage.goto('/login')
      await shoot(lpage, 'login', 'phone')
      await lctx.close()
    })

    await step('1,000 stations: page render and live update latency (measured)', async () => {
      const fleet = await env.seedFleet(page, 1000)
      await page.goto('/stations')
      await page.evaluate((id) => localStorage.setItem('talos.team', id), fleet.teamId)
      const start = Date.now()
      await page.goto('/stations')
      // Rendered: the map with every station, the table with its first page.
      const inPage = await page.waitForFunction(
        () => document.querySelector('.summary')?.textContent.includes('1000 stations') &&
          document.querySelectorAll('tr[data-station]').length >= 200 && performance.now(),
        null,
        { timeout: 60_000, polling: 'raf' },
      )
      const renderMs = Date.now() - start
      const rendered = await inPage.jsonValue()
      const snapshot = await page.evaluate(() => performance.getEntriesByName('talos:snapshot')[0]?.startTime ?? NaN)
      console.log(`measure: stations page with 1000 stations (map of all, table of the first 200): rendered ` +
        `${Math.round(rendered)} ms after the navigation started (page clock; ${renderMs} ms by the test's clock); ` +
        `the live feed's snapshot arrived at ${Math.round(snapshot)} ms, so the table and map took ` +
        `${Math.round(rendered - snapshot)} ms to render`)
      const before = await page.evaluate(() => performance.now())
      await page.locator('[data-test=show-all]').click()
      const all = await page.waitForFunction(
        () => document.querySelectorAll('tr[data-station]').length >= 1000 && performance.now(),
        null,
        { timeout: 60_000, polling: 'raf' },
      )
      console.log(`measure: "Show all" rendered the 1000-row table in ${Math.round((await all.jsonValue()) - before)} ms`)
      const latencies = []
      for (let i = 1; i <= 5; i++) {
        const cpu = 50 + i + 0.25
        const sent = Date.now()
        const r = await fetch(`${env.url}/api/satellites/${fleet.id}/heartbeat`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${fleet.key}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(heartbeat(cpu)),
        })
        assert.equal(r.status, 200, await r.text())
        await page.waitForFunction(
          ([id, text]) => document.querySelector(`tr[data-station="${id}"] .cpu`)?.textContent.includes(text),
          [fleet.id, `CPU ${cpu.toFixed(1)}%`],
          { timeout: 30_000, polling: 'raf' },
        )
        latencies.push(Date.now() - sent)
      }
      latencies.sort((a, b) => a - b)
      console.log(`measure: heartbeat to page through SSE with 1000 stations: min ${latencies[0]} ms, ` +
        `median ${latencies[2]} ms, max ${latencies[4]} ms (5 heartbeats)`)
      // Generous bounds only: the goals (1 s, 2 s) are reported above, not asserted.
      assert.ok(renderMs < 30_000, `render took ${renderMs} ms`)
      assert.ok(latencies[4] < 15_000, `SSE latency ${latencies[4]} ms`)
    })

    await step('no serious or critical accessibility violations, no CSP violations', () => {
      assert.deepEqual(a11y, [])
      assert.deepEqual(env.pageErrors, [])
    })
  })
}

// startEnv starts the backend on a free port with a fresh data directory, and returns what
// the steps need; everything is stopped and removed when the test ends.
async function startEnv(t) {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'talos-ui-e2e-'))
  await chmod(tmp, 0o755) // the station's team users must reach <state dir>-teams
  const dataDir = path.join(tmp, 'data')
  await mkdir(dataDir, { mode: 0o700 })
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const env = { ...process.env, TALOS_DATA_DIR: dataDir, TALOS_LISTEN: `127.0.0.1:${port}`, TALOS_DEV: '1' }
  delete env.TALOS_BOOTSTRAP_ADMIN_PASSWORD
  delete env.TALOS_DATABASE_URL
  const procs = []
  const log = []
  const start = (file, args, extra = {}) => {
    const p = spawn(file, args, { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] })
    p.stdout.on('data', (d) => log.push(d.toString()))
    p.stderr.on('data', (d) => log.push(d.toString()))
    procs.push(p)
    return p
  }
  t.after(async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        const done = new Promise((r) => p.once('exit', r))
        p.kill('SIGTERM')
        await done
      }
    }
    await rm(tmp, { recursive: true, force: true })
  })
  const backend = start(bin('talos-backend'), ['serve'])
  await waitFor(async () => (await fetch(`${url}/api/health`)).ok, 60_000, () => backend.exitCode !== null && `talos-backend exited:\n${log.join('')}`)
  const index = await (await fetch(url + '/')).text()
  assert.ok(index.includes('<div id="app">'), 'the backend serves the built UI (run make build):\n' + index)
  const adminPassword = (await readFile(path.join(dataDir, 'admin-password'), 'utf8')).trim()

  const backendCLI = (args, input) =>
    new Promise((resolve, reject) => {
      const p = spawn(bin('talos-backend'), args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      let errOut = ''
      p.stdout.on('data', (d) => (out += d))
      p.stderr.on('data', (d) => (errOut += d))
      p.stdin.end(input ?? '')
      p.on('exit', (code) =>
        code === 0 ? resolve(out.trim()) : reject(new Error(`talos-backend ${args.join(' ')}: exit ${code}: ${errOut}`)),
      )
    })
  await backendCLI(['team', 'create', '--name', 'E2E team', '--owner', ADMIN])
  const stateDir = path.join(tmp, 'station')
  const pageErrors = []
  return {
    url, adminPassword, teamId: '', backendCLI, pageErrors, log,
    async startStation(token) {
      await run(bin('talos-satellite'), ['register', '--backend', url, '--name', 'E2E station', '--lat', '48.15',
        '--lon', '11.57', '--alt-m', '520', '--capabilities', 'rotator,radio,proc', '--state-dir', stateDir],
      { env: { ...env, TALOS_REGISTRATION_TOKEN: token } })
      const statusPort = await freePort()
      start(bin('talos-satellite'), ['run', '--config', path.join(root, 'deploy/dev/station.yaml'), '--state-dir', stateDir,
        '--status-listen', `127.0.0.1:${statusPort}`])
    },
    async importCatalog(text) {
      const file = path.join(tmp, 'catalog.tle')
      await writeFile(file, text)
      await backendCLI(['catalog', 'import', file, '--source', 'e2e'])
    },
    async seedFleet(page, count) {
      await backendCLI(['team', 'create', '--name', 'Fleet', '--owner', ADMIN])
      const fleetTeam = await teamIdOf(page, 'Fleet')
      const { stdout } = await run('go', ['run', './frontend/e2e/seed', '--database', path.join(dataDir, 'talos.db'),
        '--team', fleetTeam, '--count', String(count)], { cwd: root, env, maxBuffer: 1 << 20 })
      return { teamId: fleetTeam, ...JSON.parse(stdout) }
    },
  }
}

// teamIdOf finds the id of the signed-in user's team by its name.
async function teamIdOf(page, name) {
  const me = await (await page.request.get('/api/me')).json()
  const team = me.teams.find((t) => t.name === name)
  assert.ok(team, `no team ${name} in ${JSON.stringify(me.teams)}`)
  return team.id
}

// watched opens a page that records CSP violations and script errors into env.pageErrors.
async function watched(ctx, env) {
  const page = await ctx.newPage()
  page.setDefaultTimeout(30_000)
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) env.pageErrors.push(m.text())
  })
  page.on('pageerror', (e) => env.pageErrors.push(String(e)))
  return page
}

const axeSource = readFile(require.resolve('axe-core/axe.min.js'), 'utf8')

// checkA11y runs axe-core in the page (evaluated through the DevTools protocol, so the page's
// CSP does not apply to it) and records serious and critical violations.
async function checkA11y(page, name, out) {
  await page.evaluate(await axeSource)
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations)
  for (const v of violations) {
    if (v.impact === 'serious' || v.impact === 'critical') {
      out.push(`${name}: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`)
    }
  }
}

// shoot saves a viewport screenshot into docs/screenshots, and checks it stays small.
async function shoot(page, name, kind = 'desktop') {
  await mkdir(shots, { recursive: true })
  const file = path.join(shots, `${name}-${kind}.png`)
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' })
  const { size } = await stat(file)
  assert.ok(size < 200 * 1024, `${file} is ${size} bytes (keep screenshots under 200 KB)`)
}

function heartbeat(cpu) {
  const mem = { total_bytes: 1 << 30, used_bytes: 1 << 29, percent: 50 }
  return { status: 'online', version: 'seed', uptime_seconds: 60, system: { cpu_percent: cpu, memory: mem, disk: mem,
    load: { load1: 0, load5: 0, load15: 0 } }, outbox_depth: 0, events_dropped: 0 }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

// waitFor retries check until it is true (errors count as not yet), failing after timeoutMs or
// as soon as dead() names a reason.
async function waitFor(check, timeoutMs, dead = () => false) {
  const until = Date.now() + timeoutMs
  for (;;) {
    const reason = dead()
    if (reason) throw new Error(reason)
    try {
      if (await check()) return
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`not ready within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
