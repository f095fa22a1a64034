import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The bundle goes to dist/app, which talos-backend embeds (frontend/embed.go). Nothing is
// inlined as a data: URL and no script or style is inline in index.html: the backend's CSP
// allows scripts and styles from 'self' only (docs/ui.md).
export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: 'dist/app',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800,
  },
  server: {
    // npm run dev: the API of a `make run` backend.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
})
