-- Deliveries with inline content have no template. Only the filter by
-- template (`template_key = …`) reads this index, and that never matches a
-- NULL, so the index leaves those rows out: an inline delivery's insert and
-- its completing update (never HOT, as `status` is indexed) each write one
-- index entry fewer. See docs/decisions/0036-template-index-skips-inline-deliveries.md.
DROP INDEX deliveries_template;
CREATE INDEX deliveries_template ON deliveries (template_key, id)
    WHERE template_key IS NOT NULL;
