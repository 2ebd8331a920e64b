import type { ReactNode } from "react";
import { SessionContext, type SessionControl } from "@/hooks/useSession";

/** Renders `children` as if signed in with key `name` of tenant acme holding only `scopes`. */
export function SignedIn({ scopes, name = "viewer", children }: { scopes: string[]; name?: string; children: ReactNode }) {
  const control: SessionControl = {
    state: { status: "active", session: { auth: "keys", tenant: "acme", key_name: name, scopes }, notice: null },
    signIn: async () => undefined,
    signOut: async () => undefined,
  };
  return <SessionContext.Provider value={control}>{children}</SessionContext.Provider>;
}
