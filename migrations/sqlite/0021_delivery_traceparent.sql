-- The W3C trace context (traceparent) a delivery's attempts continue:
-- the span that accepted its notification, when tracing is exported.
ALTER TABLE deliveries ADD COLUMN traceparent TEXT;
