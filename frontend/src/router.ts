// Client routes. Every page but the login needs a session; a user who must change their
// password sees only that page. The navigation lists pages by what exists in the API: the
// observations, auto-scheduler and artifact pages slot in here as those APIs land.
import { createRouter, createWebHistory } from 'vue-router'
import { onAuthProblems } from './api'
import { clearSession, loadSession, session } from './session'
import LoginView from './views/LoginView.vue'
import PasswordView from './views/PasswordView.vue'
import StationsView from './views/StationsView.vue'
import StationView from './views/StationView.vue'
import TokensView from './views/TokensView.vue'
import AuditView from './views/AuditView.vue'
import NotFoundView from './views/NotFoundView.vue'
import CatalogView from './views/CatalogView.vue'
import PassesView from './views/PassesView.vue'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', redirect: '/stations' },
    { path: '/login', name: 'login', component: LoginView, meta: { public: true, title: 'Sign in' } },
    { path: '/password', name: 'password', component: PasswordView, meta: { title: 'Change password' } },
    { path: '/stations', name: 'stations', component: StationsView, meta: { title: 'Stations' } },
    { path: '/stations/:id', name: 'station', component: StationView, props: true, meta: { title: 'Station' } },
    { path: '/passes', name: 'passes', component: PassesView, meta: { title: 'Passes' } },
    { path: '/catalog', name: 'catalog', component: CatalogView, meta: { title: 'Catalog' } },
    { path: '/tokens', name: 'tokens', component: TokensView, meta: { title: 'Registration tokens' } },
    { path: '/audit', name: 'audit', component: AuditView, meta: { title: 'Audit log' } },
    { path: '/:rest(.*)*', name: 'notfound', component: NotFoundView, meta: { title: 'Not found' } },
  ],
})

router.beforeEach(async (to) => {
  if (!session.loaded) await loadSession()
  if (to.meta.public) return true
  if (!session.user) return { name: 'login', query: { next: to.fullPath } }
  if (session.user.must_change_password && to.name !== 'password') {
    return { name: 'password', query: { next: to.fullPath } }
  }
  return true
})

router.afterEach((to) => {
  document.title = `${(to.meta.title as string) ?? 'Talos'} · Talos`
})

// An expired session: back to the login page, and afterwards back to where the user was.
onAuthProblems(
  () => {
    const here = router.currentRoute.value
    if (here.name === 'login') return
    clearSession()
    router.push({ name: 'login', query: { next: here.fullPath } })
  },
  () => {
    const here = router.currentRoute.value
    if (here.name !== 'password') router.push({ name: 'password', query: { next: here.fullPath } })
  },
)
