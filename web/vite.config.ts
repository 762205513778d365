import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The page is built into dist/web, which the coordinator serves; nothing is fetched at run time.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: '../dist/web', emptyOutDir: true, assetsDir: 'assets', sourcemap: false, chunkSizeWarningLimit: 1500 },
  logLevel: 'warn',
});
