import type { Metadata, Viewport } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { HealthProvider } from "@/components/HealthProvider";
import { MockNotice } from "@/components/Mock";
import { SessionBar } from "@/components/SessionBar";
import { SessionGate, SessionProvider } from "@/components/SessionProvider";
import "@xyflow/react/dist/style.css";
import "./globals.css";

export const metadata: Metadata = {
  title: "Planwright",
  description: "Submit a goal, watch the plan run live, see why things were reworked or blocked.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <SessionProvider>
          <HealthProvider>
            <a className="skip" href="#main">
              Skip to content
            </a>
            <header className="top">
              <Link href="/" className="brand">
                Planwright
              </Link>
              <nav aria-label="Main">
                <Link href="/">Jobs</Link>
                <Link href="/tools/">Tools</Link>
                <Link href="/usage/">Usage</Link>
              </nav>
              <SessionBar />
            </header>
            <MockNotice />
            <main id="main">
              <SessionGate>{children}</SessionGate>
            </main>
          </HealthProvider>
        </SessionProvider>
      </body>
    </html>
  );
}
