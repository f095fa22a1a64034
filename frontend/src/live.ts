// The live feed: one EventSource on GET /api/teams/{team}/live for the current team. The
// server sends a snapshot of every station first (also after each reconnect: that is the
// resync), then station, event and command changes. Station changes are applied in batches
// at most every 250 ms, so a thousand heartbeats a minute re-render the table a few times a
// second at most. When the stream breaks for good (401, the server gone) the page checks the
// session (a 401 leads to the login page) and opens a new stream after 10 s: it never asks the
// server more often than that.
import { reactive, shallowRef, triggerRef } from 'vue'
import { get, type Command, type Me, type Station, type StationEvent } from './api'

const RETRY_MS = 10_000
const FLUSH_MS = 250
const KEEP_EVENTS = 200

export const live = reactive({
  teamId: '',
  connected: false,
  /** When the last snapshot arrived (ms since the epoch): pages refetch lists after a resync. */
  resyncedAt: 0,
  /** When the page last received anything, for the "live" indicator. */
  lastMessageAt: 0,
})

/** The stations of the current team by id; replaced as a whole at each flush. */
export const stations = shallowRef(new Map<string, Station>())
/** The latest events of the team, newest first. */
export const events = shallowRef<StationEvent[]>([])
/** Command changes seen on this connection, by command id. */
export const commands = shallowRef(new Map<string, Command>())

let source: EventSource | null = null
let retryTimer: ReturnType<typeof setTimeout> | undefined
let flushTimer: ReturnType<typeof setTimeout> | undefined
let pending: Station[] = []

export function connect(teamId: string) {
  if (teamId === live.teamId && source) return
  disconnect()
  live.teamId = teamId
  stations.value = new Map()
  events.value = []
  commands.value = new Map()
  if (teamId) open()
}

export function disconnect() {
  source?.close()
  source = null
  clearTimeout(retryTimer)
  clearTimeout(flushTimer)
  pending = []
  live.connected = false
  live.teamId = ''
}

function open() {
  const teamId = live.teamId
  const es = new EventSource(`/api/teams/${teamId}/live`)
  source = es
  const data = <T>(m: MessageEvent) => {
    live.lastMessageAt = Date.now()
    return JSON.parse(m.data) as T
  }
  es.addEventListener('open', () => (live.connected = true))
  es.addEventListener('snapshot', (m) => {
    performance.mark('talos:snapshot')
    const snap = data<{ stations: Station[] }>(m as MessageEvent)
    pending = []
    stations.value = new Map(snap.stations.map((s) => [s.id, s]))
    live.resyncedAt = Date.now()
    live.connected = true
  })
  es.addEventListener('station', (m) => {
    pending.push(data<Station>(m as MessageEvent))
    if (!flushTimer) flushTimer = setTimeout(flush, FLUSH_MS)
  })
  es.addEventListener('event', (m) => {
    events.value = [data<StationEvent>(m as MessageEvent), ...events.value].slice(0, KEEP_EVENTS)
  })
  es.addEventListener('command', (m) => {
    const c = data<Command>(m as MessageEvent)
    commands.value.set(c.id, c)
    triggerRef(commands)
  })
  es.addEventListener('end', () => broken(es))
  es.addEventListener('error', () => {
    live.connected = false
    // EventSource retries by itself after a dropped connection (readyState CONNECTING); a
    // refused one (401, 404) is CLOSED and needs us.
    if (es.readyState === EventSource.CLOSED) broken(es)
  })
}

function flush() {
  flushTimer = undefined
  if (!pending.length) return
  const next = new Map(stations.value)
  for (const s of pending) next.set(s.id, s)
  pending = []
  stations.value = next
}

async function broken(es: EventSource) {
  es.close()
  if (source !== es) return
  source = null
  live.connected = false
  const teamId = live.teamId
  // A 401 here sends the user to the login page (api.ts); otherwise retry later.
  await get<Me>('/api/me').catch(() => null)
  clearTimeout(retryTimer)
  retryTimer = setTimeout(() => {
    if (live.teamId === teamId && !source) open()
  }, RETRY_MS)
}
