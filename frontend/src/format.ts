// Small formatting helpers shared by the pages.
import type { Station } from './api'

export function ago(iso?: string, now = Date.now()): string {
  if (!iso) return 'never'
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

export function when(iso?: string): string {
  return iso ? new Date(iso).toLocaleString() : '—'
}

/** The status shown for a station: maintenance wins over what the heartbeat says. */
export function displayStatus(s: Station): string {
  return s.maintenance ? 'maintenance' : s.status
}

/** What the station is doing now, from its latest heartbeat. */
export function activity(s: Station): string {
  const r = s.heartbeat?.report
  if (!r || s.status === 'offline') return '—'
  const parts: string[] = []
  const t = r.tracking
  if (t && t.state && t.state !== 'idle') {
    parts.push(
      t.norad_id
        ? `${t.state} NORAD ${t.norad_id} at az ${t.azimuth_deg.toFixed(1)}° el ${t.elevation_deg.toFixed(1)}°`
        : t.state,
    )
  } else {
    parts.push('idle')
  }
  if (r.outbox_depth > 0) parts.push(`${r.outbox_depth} events queued`)
  const running = (r.processes ?? []).filter((p) => p.state === 'running').length
  if (running) parts.push(`${running} process${running > 1 ? 'es' : ''}`)
  return parts.join(', ')
}

export function location(s: Station): string {
  const { lat, lon } = s.location
  return `${Math.abs(lat).toFixed(2)}° ${lat >= 0 ? 'N' : 'S'}, ${Math.abs(lon).toFixed(2)}° ${lon >= 0 ? 'E' : 'W'}`
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`
}

/** The page to go back to after signing in or changing the password: only a path of this site,
 * never an absolute URL from the query string. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : '/stations'
}
