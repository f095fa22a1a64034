// Who is signed in, in which team, with which role: loaded from GET /api/me and kept in one
// reactive object every page reads. The chosen team is remembered in localStorage.
import { computed, reactive } from 'vue'
import { get, setCSRF, type Me, type Role, type Team, type User } from './api'

const TEAM_KEY = 'talos.team'

export const session = reactive({
  loaded: false,
  user: null as User | null,
  teams: [] as Team[],
  teamId: localStorage.getItem(TEAM_KEY) ?? '',
})

export async function loadSession(): Promise<boolean> {
  try {
    const me = await get<Me>('/api/me')
    applyMe(me)
    return true
  } catch {
    session.user = null
    return false
  } finally {
    session.loaded = true
  }
}

export function applyMe(me: Me) {
  session.user = me.user
  session.teams = me.teams ?? []
  if (me.auth?.csrf_token) setCSRF(me.auth.csrf_token)
  if (!session.teams.some((t) => t.id === session.teamId)) {
    selectTeam(session.teams[0]?.id ?? '')
  }
}

export function clearSession() {
  session.user = null
  session.teams = []
  setCSRF('')
}

export function selectTeam(id: string) {
  session.teamId = id
  if (id) localStorage.setItem(TEAM_KEY, id)
  else localStorage.removeItem(TEAM_KEY)
}

export const currentTeam = computed(() => session.teams.find((t) => t.id === session.teamId) ?? null)

const rank: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 }

/** The user's effective role in the current team (a global administrator acts as owner). */
export const role = computed<Role | null>(() => {
  if (session.user?.is_admin) return 'owner'
  return currentTeam.value?.role ?? null
})

export const atLeast = (r: Role) => role.value !== null && rank[role.value] >= rank[r]
/** Members and up operate stations: commands, maintenance. */
export const canOperate = computed(() => atLeast('member'))
/** Team administrators and up: registration tokens, the team's audit log. */
export const isTeamAdmin = computed(() => atLeast('admin'))
