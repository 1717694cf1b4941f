// Builds the browser UI into dist/web (run as `vite build web`, so paths are relative to web/).
// JSX goes through Vite's own oxc transform with Preact's automatic runtime: no Babel preset needed.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../dist/web",
    emptyOutDir: true,
    // The CSP allows only same-origin script and style files: no inline polyfill, CSS as a file.
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: "es2022",
  },
});
