-- Install or upgrade the Aurora shim in the current database: the extensions aws_commons and aws_lambda,
-- whose files installer.install_extension_files() puts into PostgreSQL's extension directory first.
--
-- Idempotent. An extension is reinstalled (and the EXECUTE grants on its functions kept) when it is stale:
-- registered by the shim from before it was an extension (a pg_extension row with no member objects,
-- beside loose functions and a type), or installed from an older script (its comment, which carries a
-- digest of the script, or its version differs from the files now in the extension directory).
BEGIN;
SET LOCAL client_min_messages = warning;

DO $install$
DECLARE
    v_stale text[];
    v_grants jsonb;
    v_function text;
    v_statements jsonb;
    v_ext text;
    v_grant text;
    v_detail text;
BEGIN
    SELECT pg_catalog.array_agg(e.extname::text ORDER BY e.extname DESC)  -- aws_lambda before aws_commons
      INTO v_stale
      FROM pg_catalog.pg_extension e
      LEFT JOIN pg_catalog.pg_available_extensions a ON a.name = e.extname
     WHERE e.extname IN ('aws_commons', 'aws_lambda')
       AND (e.extversion IS DISTINCT FROM a.default_version
            OR pg_catalog.obj_description(e.oid, 'pg_extension') IS DISTINCT FROM a.comment
            OR NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                            WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                              AND d.refobjid = e.oid AND d.deptype = 'e'));
    -- aws_lambda's functions take aws_commons's type: a stale aws_commons takes aws_lambda with it.
    IF 'aws_commons' = ANY (v_stale) AND NOT 'aws_lambda' = ANY (v_stale)
       AND EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'aws_lambda') THEN
        v_stale := ARRAY['aws_lambda'] || v_stale;
    END IF;

    IF v_stale IS NOT NULL THEN
        -- Who may run the shim's functions, restored after the reinstall: each function's GRANT EXECUTE
        -- statements (to roles or PUBLIC, besides its owner), by signature.
        SELECT pg_catalog.jsonb_object_agg(p.oid::pg_catalog.regprocedure::text, coalesce(
                   (SELECT pg_catalog.jsonb_agg(pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s',
                               p.oid::pg_catalog.regprocedure,
                               CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END,
                               CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END))
                      FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) x
                      LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.grantee
                     WHERE x.grantee <> p.proowner AND x.privilege_type = 'EXECUTE'),
                   '[]'))
          INTO v_grants
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE (n.nspname, p.proname) IN (('aws_lambda', 'invoke'), ('aws_commons', 'create_lambda_function_arn'));

        BEGIN
            FOREACH v_ext IN ARRAY v_stale LOOP
                EXECUTE pg_catalog.format('DROP EXTENSION %I', v_ext);
            END LOOP;
            -- What the shim created before it was an extension (nothing when it was one).
            IF 'aws_lambda' = ANY (v_stale) THEN
                DROP SCHEMA IF EXISTS aws_lambda_local CASCADE;
                DROP FUNCTION IF EXISTS
                    aws_lambda.invoke(aws_commons._lambda_function_arn_1, json, text, text, json, varchar),
                    aws_lambda.invoke(aws_commons._lambda_function_arn_1, jsonb, text, text, jsonb, varchar),
                    aws_lambda.invoke(text, json, text, text, text, json, varchar),
                    aws_lambda.invoke(text, jsonb, text, text, text, jsonb, varchar);
            END IF;
            IF 'aws_commons' = ANY (v_stale) THEN
                DROP FUNCTION IF EXISTS aws_commons.create_lambda_function_arn(text, text);
                DROP TYPE IF EXISTS aws_commons._lambda_function_arn_1;
            END IF;
        EXCEPTION WHEN dependent_objects_still_exist THEN
            GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
            RAISE EXCEPTION 'cannot upgrade the aws_lambda shim: other objects depend on it'
                USING ERRCODE = 'dependent_objects_still_exist', DETAIL = v_detail,
                      HINT = 'Drop or change the objects listed (they use aws_lambda or aws_commons), '
                             'then install the shim again (s3vl-local up).';
        END;
    END IF;

    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'aws_lambda') THEN
        CREATE EXTENSION aws_lambda CASCADE;
    END IF;

    -- The script's own grants are replaced by the ones kept; a function the new script no longer has
    -- keeps nothing.
    FOR v_function, v_statements IN SELECT * FROM pg_catalog.jsonb_each(coalesce(v_grants, '{}')) LOOP
        CONTINUE WHEN pg_catalog.to_regprocedure(v_function) IS NULL;
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', v_function);
        FOR v_grant IN SELECT pg_catalog.jsonb_array_elements_text(v_statements) LOOP
            EXECUTE v_grant;
        END LOOP;
    END LOOP;
END
$install$;

COMMIT;
