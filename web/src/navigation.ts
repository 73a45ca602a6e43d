/** Moving between the screen's views (hash routes), shared by the app and its pages without a cycle. */
export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

/** A secret shown once (after creating an endpoint); kept in memory only, never in storage. */
export interface Flash {
  webhookId: string;
  secret: string;
}
