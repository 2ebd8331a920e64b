// @ts-check
import { PHASE_DEVELOPMENT_SERVER } from "next/constants.js";

/**
 * Production builds are a static export (ui/out), served by the FastAPI app at `/`.
 * `next dev` (make ui-dev) is not an export, so it can proxy `/api/*` to a running API
 * (PLANWRIGHT_API_URL, default http://127.0.0.1:8000) when NEXT_PUBLIC_API_URL=/api:
 * that avoids CORS without changing the API.
 *
 * @param {string} phase
 * @returns {import("next").NextConfig}
 */
export default function config(phase) {
  /** @type {import("next").NextConfig} */
  const base = {
    trailingSlash: true,
    images: { unoptimized: true },
    reactStrictMode: true,
    poweredByHeader: false,
    // `npm run lint` runs ESLint and tsc on its own.
    eslint: { ignoreDuringBuilds: true },
  };
  if (phase === PHASE_DEVELOPMENT_SERVER) {
    const target = (process.env.PLANWRIGHT_API_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
    return {
      ...base,
      async rewrites() {
        return [{ source: "/api/:path*", destination: `${target}/:path*` }];
      },
    };
  }
  return { ...base, output: "export" };
}
