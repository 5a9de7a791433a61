-- Record the drift found in one batch: one row per (kind, field path, error type).
INSERT INTO sync.drift_events (connector, entity, run_id, kind, field_path, error_type, row_count, sample_record_ids)
SELECT %(connector)s, %(entity)s, %(run_id)s, kind, field_path, error_type, row_count,
       CASE WHEN samples = '' THEN '{}'::text[] ELSE string_to_array(samples, ',') END
FROM unnest(%(kinds)s::text[], %(paths)s::text[], %(error_types)s::text[], %(counts)s::int[], %(samples)s::text[])
     AS drift(kind, field_path, error_type, row_count, samples);
