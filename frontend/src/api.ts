// The one way the UI talks to the backend: same-origin fetch with the session cookie, the CSRF
// token on every unsafe request, and the API's error envelope turned into ApiError. A 401 sends
// the user to the login page and back afterwards (session.ts installs the handler).

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message)
  }
}

let csrfToken = ''
let onUnauthorized: () => void = () => {}
let onPasswordChange: () => void = () => {}

export function setCSRF(token: string) {
  csrfToken = token
}

export function onAuthProblems(unauthorized: () => void, passwordChange: () => void) {
  onUnauthorized = unauthorized
  onPasswordChange = passwordChange
}

const unsafe = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (unsafe.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken
  let r: Response
  try {
    r = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, 'network', 'Talos cannot be reached; check the connection and retry.')
  }
  if (r.status === 204) return undefined as T
  const data = await r.json().catch(() => null)
  if (!r.ok) {
    const e = data?.error ?? {}
    const err = new ApiError(r.status, e.code ?? 'http_' + r.status, e.message ?? r.statusText, e.field)
    if (r.status === 401 && path !== '/api/auth/login') onUnauthorized()
    if (r.status === 403 && err.code === 'password_change_required') onPasswordChange()
    throw err
  }
  return data as T
}

export const get = <T>(path: string) => api<T>('GET', path)
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body)
export const del = <T>(path: string) => api<T>('DELETE', path)

// Types of the API's answers the pages read (docs/api-users.md, docs/openapi.yaml).

export interface User {
  id: string
  email: string
  display_name: string
  is_admin: boolean
  must_change_password: boolean
}

export type Role = 'viewer' | 'member' | 'admin' | 'owner'

export interface Team {
  id: string
  name: string
  slug: string
  role: Role
}

export interface Me {
  user: User
  teams: Team[]
  auth: { kind: string; csrf_token?: string }
}

export interface Location {
  lat: number
  lon: number
  alt_m: number
}

export interface Process {
  name: string
  state: string
  pid?: number
  cpu_percent: number
  memory_bytes: number
  restarts: number
  exit_code?: number
  signal?: string
  oom_killed?: boolean
  limited: boolean
}

export interface Tracking {
  state: string
  observation_id?: string
  norad_id?: number
  azimuth_deg: number
  elevation_deg: number
  pointing_error_deg: number
  downlink_hz?: number
}

export interface HeartbeatReport {
  status: string
  version: string
  uptime_seconds: number
  system: {
    cpu_percent: number
    memory: { total_bytes: number; used_bytes: number; percent: number }
    disk: { total_bytes: number; used_bytes: number; percent: number }
    load: { load1: number; load5: number; load15: number }
    temperature_c?: number
  }
  processes?: Process[]
  tracking?: Tracking
  cgroup_limits?: string
  outbox_depth: number
  events_dropped: number
}

export interface Heartbeat {
  id: string
  received_at: string
  report: HeartbeatReport
}

export interface Station {
  id: string
  team_id?: string
  name: string
  location: Location
  version: string
  capabilities: string[]
  status: string
  maintenance: boolean
  last_seen_at?: string
  updated_at: string
  heartbeat_seconds: number
  heartbeat?: Heartbeat
}

export interface StationEvent {
  seq: string
  id: string
  satellite_id?: string
  type: string
  severity: string
  time: string
  received_at: string
  message?: string
  command_id?: string
}

export interface Command {
  id: string
  satellite_id: string
  type: string
  priority: string
  status: string
  created_at: string
  updated_at: string
  created_by?: string
  finished_at?: string
  error?: string
  result?: unknown
}

export interface RegToken {
  id: string
  scope: string
  team_id?: string
  name?: string
  created_at: string
  expires_at: string
  uses_allowed: number
  uses_left: number
  last_used_at?: string
  revoked_at?: string
  token?: string
}

export interface AuditEntry {
  id: string
  at: string
  actor_type: string
  actor_id?: string
  action: string
  object_type?: string
  object_id?: string
  team_id?: string
  status: number
  detail?: string
  client_addr?: string
}
