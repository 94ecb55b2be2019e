/// <reference types="vitest/config" />
import path from "node:path";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// The Go server (NEXMDM_ADDR default). `make dev` may point elsewhere with NEXMDM_API.
const api = process.env.NEXMDM_API ?? "http://127.0.0.1:8080";

const proxied = { target: api, changeOrigin: true };

export default defineConfig({
  plugins: [react(), tailwindcss()],
  resolve: { alias: { "@": path.resolve(import.meta.dirname, "src") } },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/admin": {
        ...proxied,
        ws: true,
        // The live feed checks Origin against its own host: present the API's origin.
        configure: (proxy) => {
          proxy.on("proxyReqWs", (proxyReq) => proxyReq.setHeader("origin", api));
        },
      },
      "/v1": proxied,
      "/openapi.json": proxied,
      "/healthz": proxied,
      "/readyz": proxied,
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    // CI machines have 2 cores: user-event flows through Radix can take seconds.
    testTimeout: 20_000,
  },
});
