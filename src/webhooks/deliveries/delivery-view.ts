const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function attemptView(row: Record<string, any>) {
  return {
    number: row.number as number,
    trigger: row.trigger as string,
    startedAt: iso(row.started_at),
    durationMs: row.duration_ms as number,
    url: row.url as string,
    requestHeaders: row.request_headers as Record<string, string>,
    requestBody: row.request_body as string | null,
    responseStatus: row.response_status as number | null,
    responseHeaders: row.response_headers as Record<string, string> | null,
    responseBody: row.response_body as string | null,
    errorClass: row.error_class as string | null,
    errorMessage: row.error_message as string | null,
  };
}

export type AttemptView = ReturnType<typeof attemptView>;

export function deliveryView(row: Record<string, any>) {
  return {
    id: row.id as string,
    webhookId: row.webhook_id as string,
    eventId: row.event_id as string,
    eventType: row.event_type as string,
    // Not stored: a pending delivery under an unexpired lease is being sent.
    status:
      row.status === 'pending' && row.lease_expires_at && row.lease_expires_at > new Date()
        ? 'delivering'
        : (row.status as string),
    attemptCount: row.attempt_count as number,
    nextAttemptAt: iso(row.next_attempt_at),
    lastAttemptAt: iso(row.last_attempt_at),
    lastResponseStatus: row.last_response_status as number | null,
    lastErrorClass: row.last_error_class as string | null,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}
