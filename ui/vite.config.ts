// Vite configuration for fjord's UI. The build writes hashed files under assets/ and, next to
// every text asset, a gzip copy (`.gz`) that the server sends when the browser accepts gzip.
import { defineConfig, type Plugin } from 'vite';
import { gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

function gzipCopies(): Plugin {
  let outDir = 'dist';
  return {
    name: 'fjord-gzip-copies',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle(_options, bundle) {
      for (const fileName of Object.keys(bundle)) {
        if (!/\.(js|css|html|svg|json)$/.test(fileName)) continue;
        const file = join(isAbsolute(outDir) ? outDir : resolve(outDir), fileName);
        writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  base: '/',
  build: {
    target: 'es2020',
    sourcemap: false,
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': { target: process.env.FJORD_API ?? 'http://127.0.0.1:8088', changeOrigin: false } },
  },
  plugins: [gzipCopies()],
});
