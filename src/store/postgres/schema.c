/*
 * schema.c — the PostgreSQL backend's tables and functions, installed in the
 * schema the URL names (pushbind_schema=NAME, "pushbind" by default) and
 * versioned in its `meta` table. See store_state.h for the layout.
 *
 * The first process to open a store creates the schema under a session
 * advisory lock, so that two processes starting at once never both create
 * it; a newer binary upgrades an older schema the same way (one step per
 * version, each in its own transaction); an older binary refuses a newer
 * schema, since it would not know what the newer functions keep.
 *
 * The text below is run with search_path set to the schema, and every
 * function captures it (SET search_path FROM CURRENT), so one text serves
 * every namespace and nothing in it names the schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres/store_state.h"

/*
 * Version 1. Columns are ordered widest first so that no byte is lost to
 * alignment padding; tokens and accounts compare bytewise (COLLATE "C"),
 * which is also what makes the indexes cheap to search.
 */
static const char schema_v1[] =
    "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);\n"
    "CREATE TABLE apps (id bigint PRIMARY KEY, created_at bigint NOT NULL, secret text NOT NULL);\n"
    /* The bindings count in shards, so that concurrent writers of one app do
     * not queue on one row until their COMMIT: the count is their sum. */
    "CREATE TABLE app_counts (app bigint NOT NULL, shard int NOT NULL, n bigint NOT NULL,\n"
    "  PRIMARY KEY (app, shard));\n"
    /* Creation order of bindings across every writer; CACHE 1 keeps it the
     * order in which they were made, not the order of per-session blocks. */
    "CREATE SEQUENCE binding_seq CACHE 1;\n"
    "CREATE TABLE bindings (\n"
    "  app bigint NOT NULL, seq bigint NOT NULL, bind_time bigint NOT NULL, last_bind_time bigint NOT NULL,\n"
    "  atype int NOT NULL, platform smallint NOT NULL,\n"
    "  token text COLLATE \"C\" NOT NULL, account text COLLATE \"C\" NOT NULL,\n"
    "  PRIMARY KEY (app, token, atype, account));\n"
    "CREATE INDEX bindings_by_account ON bindings (app, atype, account);\n"
    /* Where the background expiry's bounded steps resume (a page number). */
    "CREATE TABLE expiry_cursor (one boolean PRIMARY KEY DEFAULT true CHECK (one), next_page bigint NOT NULL);\n"
    "INSERT INTO expiry_cursor (next_page) VALUES (0);\n"
    "\n"
    /* ---- apps ---- */
    "CREATE FUNCTION app_lock_key(p_app bigint) RETURNS bigint LANGUAGE sql IMMUTABLE\n"
    "  AS $f$ SELECT hashtextextended('app ' || p_app, 0) $f$;\n"
    "CREATE FUNCTION app_bindings(p_app bigint) RETURNS bigint LANGUAGE sql STABLE SET search_path FROM CURRENT\n"
    "  AS $f$ SELECT coalesce(sum(n), 0)::bigint FROM app_counts WHERE app = p_app $f$;\n"
    /* NOTIFY on "SCHEMA.apps": the servers drop the secrets they cached. */
    "CREATE FUNCTION app_put(p_app bigint, p_secret text, p_now bigint) RETURNS boolean LANGUAGE plpgsql\n"
    "  SET search_path FROM CURRENT AS $f$\n"
    "DECLARE created boolean;\n"
    "BEGIN\n"
    "  INSERT INTO apps AS a (id, created_at, secret) VALUES (p_app, p_now, p_secret)\n"
    "    ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret RETURNING (a.xmax = 0) INTO created;\n"
    "  PERFORM pg_notify(current_schema() || '.apps', p_app::text);\n"
    "  RETURN created;\n"
    "END $f$;\n"
    /* NULL when there is no such app, else the bindings it held. The
     * exclusive app lock waits for the batches in flight (they hold it shared). */
    "CREATE FUNCTION app_remove(p_app bigint) RETURNS bigint LANGUAGE plpgsql\n"
    "  SET search_path FROM CURRENT AS $f$\n"
    "DECLARE gone bigint;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(app_lock_key(p_app));\n"
    "  DELETE FROM apps WHERE id = p_app;\n"
    "  IF NOT FOUND THEN RETURN NULL; END IF;\n"
    "  DELETE FROM bindings WHERE app = p_app;\n"
    "  GET DIAGNOSTICS gone = ROW_COUNT;\n"
    "  DELETE FROM app_counts WHERE app = p_app;\n"
    "  PERFORM pg_notify(current_schema() || '.apps', p_app::text);\n"
    "  RETURN gone;\n"
    "END $f$;\n"
    "CREATE FUNCTION add_count(p_app bigint, p_delta bigint) RETURNS void LANGUAGE sql\n"
    "  SET search_path FROM CURRENT AS $f$\n"
    "  INSERT INTO app_counts AS c (app, shard, n) VALUES (p_app, pg_backend_pid() % 32, p_delta)\n"
    "    ON CONFLICT (app, shard) DO UPDATE SET n = c.n + EXCLUDED.n $f$;\n"
    "\n"
    /* ---- one change (store.h: pb_change): outcome 0 ok, 1 over a limit;
     * delta the bindings it added less those it deleted, expired how many of
     * those were expired. p_cutoff: a binding whose last_bind_time is at or
     * before it has expired. ---- */
    "CREATE FUNCTION apply_change(p_app bigint, p_now bigint, p_cutoff bigint, p_max_apt int, p_max_tpa int,\n"
    "    p_kind int, p_token text, p_platform int, p_atypes int[], p_names text[], p_binds bigint[],\n"
    "    p_lasts bigint[], OUT outcome int, OUT delta bigint, OUT expired bigint) LANGUAGE plpgsql\n"
    "    SET search_path FROM CURRENT AS $f$\n"
    "DECLARE\n"
    "  c int := coalesce(array_length(p_atypes, 1), 0);\n"
    "  j int; bound int; added int := 0; tokens int; plat int := p_platform; gone bigint; fresh boolean;\n"
    "  expiring boolean;\n"
    "BEGIN\n"
    "  outcome := 0; delta := 0; expired := 0;\n"
    "  IF p_kind = 5 THEN\n"
    "    DELETE FROM bindings WHERE app = p_app AND atype = p_atypes[1] AND account = p_names[1];\n"
    "    GET DIAGNOSTICS gone = ROW_COUNT; delta := -gone; RETURN;\n"
    "  ELSIF p_kind = 4 THEN\n"
    "    DELETE FROM bindings WHERE app = p_app AND token = p_token;\n"
    "    GET DIAGNOSTICS gone = ROW_COUNT; delta := -gone; RETURN;\n"
    "  ELSIF p_kind = 3 THEN\n"
    "    DELETE FROM bindings b USING unnest(p_atypes, p_names) AS x(at, nm)\n"
    "      WHERE b.app = p_app AND b.token = p_token AND b.atype = x.at AND b.account = x.nm;\n"
    "    GET DIAGNOSTICS gone = ROW_COUNT; delta := -gone; RETURN;\n"
    "  END IF;\n"
    /* APPEND (1) and OVERWRITE (2): limits first, so a refused change writes nothing */
    "  expiring := p_cutoff > -9223372036854775807;\n"
    "  IF expiring THEN\n"
    "    DELETE FROM bindings WHERE app = p_app AND token = p_token AND last_bind_time <= p_cutoff;\n"
    "    GET DIAGNOSTICS gone = ROW_COUNT; delta := -gone; expired := gone;\n"
    "  END IF;\n"
    "  SELECT count(*) INTO bound FROM bindings WHERE app = p_app AND token = p_token;\n"
    "  FOR j IN 1..c LOOP\n"
    "    PERFORM 1 FROM bindings WHERE app = p_app AND token = p_token AND atype = p_atypes[j]\n"
    "      AND account = p_names[j];\n"
    "    CONTINUE WHEN FOUND;\n"
    "    IF expiring THEN\n"
    "      DELETE FROM bindings WHERE app = p_app AND atype = p_atypes[j] AND account = p_names[j]\n"
    "        AND last_bind_time <= p_cutoff;\n"
    "      GET DIAGNOSTICS gone = ROW_COUNT; delta := delta - gone; expired := expired + gone;\n"
    "    END IF;\n"
    "    SELECT count(*) INTO tokens FROM bindings WHERE app = p_app AND atype = p_atypes[j] AND account = p_names[j];\n"
    "    IF tokens + 1 > p_max_tpa THEN outcome := 1; RETURN; END IF;\n"
    "    added := added + 1;\n"
    "  END LOOP;\n"
    /* a token already over a lowered limit may still be re-sent what it has */
    "  IF (p_kind = 1 AND added > 0 AND bound + added > p_max_apt) OR (p_kind = 2 AND c > p_max_apt) THEN\n"
    "    outcome := 1; RETURN;\n"
    "  END IF;\n"
    "  IF p_kind = 2 THEN\n"
    "    DELETE FROM bindings b WHERE b.app = p_app AND b.token = p_token AND NOT EXISTS\n"
    "      (SELECT 1 FROM unnest(p_atypes, p_names) AS x(at, nm) WHERE x.at = b.atype AND x.nm = b.account);\n"
    "    GET DIAGNOSTICS gone = ROW_COUNT; delta := delta - gone;\n"
    "  END IF;\n"
    "  IF plat = 0 THEN\n"
    "    SELECT platform INTO plat FROM bindings WHERE app = p_app AND token = p_token LIMIT 1;\n"
    "    plat := coalesce(plat, 0);\n"
    "  END IF;\n"
    /* in list order, so that new bindings take their seqs in that order; a
     * binding that exists keeps its seq (its place) and is confirmed */
    "  FOR j IN 1..c LOOP\n"
    "    INSERT INTO bindings AS b (app, seq, bind_time, last_bind_time, atype, platform, token, account)\n"
    "      VALUES (p_app, nextval('binding_seq'), coalesce(p_binds[j], p_now), coalesce(p_lasts[j], p_now),\n"
    "              p_atypes[j], plat, p_token, p_names[j])\n"
    "      ON CONFLICT (app, token, atype, account) DO UPDATE SET\n"
    "        last_bind_time = CASE WHEN p_lasts[j] IS NULL THEN p_now\n"
    "                              ELSE greatest(b.last_bind_time, p_lasts[j]) END,\n"
    "        bind_time = CASE WHEN p_binds[j] IS NULL THEN b.bind_time ELSE least(b.bind_time, p_binds[j]) END\n"
    "      RETURNING (b.xmax = 0) INTO fresh;\n"
    "    IF fresh THEN delta := delta + 1; END IF;\n"
    "  END LOOP;\n"
    /* without a platform given, every row already has the token's (and the new ones took it) */
    "  IF p_platform <> 0 THEN\n"
    "    UPDATE bindings SET platform = plat WHERE app = p_app AND token = p_token AND platform <> plat;\n"
    "  END IF;\n"
    "END $f$;\n"
    "\n"
    /* ---- one batch: NULL when the app does not exist, else one outcome per
     * change (0 ok, 1 over a limit, 2 failed), then the expired bindings it
     * deleted. Every key a change binds or
     * unbinds is locked first, all in one order, so the limits are exact
     * under concurrent writers and two batches never wait for each other in
     * a cycle. Each change runs in its own subtransaction. p_counts[i] says
     * how many of the flat account arrays belong to change i. ---- */
    "CREATE FUNCTION apply_batch(p_app bigint, p_now bigint, p_ttl bigint, p_max_apt int, p_max_tpa int,\n"
    "    p_kinds int[], p_tokens text[], p_platforms int[], p_counts int[],\n"
    "    p_atypes int[], p_names text[], p_binds bigint[], p_lasts bigint[]) RETURNS int[] LANGUAGE plpgsql\n"
    "    SET search_path FROM CURRENT AS $f$\n"
    "DECLARE\n"
    "  n int := coalesce(array_length(p_kinds, 1), 0);\n"
    "  cutoff bigint := CASE WHEN p_ttl > 0 THEN p_now - p_ttl ELSE -9223372036854775807 END;\n"
    "  outcomes int[] := '{}'; total bigint := 0; expired bigint := 0; i int; first int := 1; last int; k bigint; r record;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock_shared(app_lock_key(p_app));\n"
    "  PERFORM 1 FROM apps WHERE id = p_app;\n"
    "  IF NOT FOUND THEN RETURN NULL; END IF;\n"
    "  FOR k IN SELECT DISTINCT key FROM (\n"
    "      SELECT hashtextextended(p_app || ' t ' || t, 0) FROM unnest(p_kinds, p_tokens) AS x(kind, t)\n"
    "        WHERE kind <> 5\n"
    "      UNION ALL\n"
    "      SELECT hashtextextended(p_app || ' a ' || at || ' ' || nm, 0) FROM unnest(p_atypes, p_names) AS y(at, nm)\n"
    "    ) AS keys(key) ORDER BY key LOOP\n"
    "    PERFORM pg_advisory_xact_lock(k);\n"
    "  END LOOP;\n"
    "  FOR i IN 1..n LOOP\n"
    "    last := first + p_counts[i] - 1;\n"
    "    BEGIN\n"
    "      SELECT * INTO r FROM apply_change(p_app, p_now, cutoff, p_max_apt, p_max_tpa, p_kinds[i], p_tokens[i],\n"
    "        p_platforms[i], p_atypes[first:last], p_names[first:last], p_binds[first:last], p_lasts[first:last]);\n"
    "      outcomes := outcomes || r.outcome;\n"
    "      total := total + r.delta;\n"
    "      expired := expired + r.expired;\n"
    "    EXCEPTION WHEN OTHERS THEN\n"
    "      outcomes := outcomes || 2;\n"
    "    END;\n"
    "    first := last + 1;\n"
    "  END LOOP;\n"
    "  IF total <> 0 THEN PERFORM add_count(p_app, total); END IF;\n"
    "  RETURN outcomes || expired::int;\n"
    "END $f$;\n"
    "\n"
    /* ---- expiry in the background: deletes the expired bindings of the
     * next p_pages pages of the table (a TID range scan: no index on times),
     * then moves the cursor; returns the bindings deleted. ---- */
    "CREATE FUNCTION expire_step(p_cutoff bigint, p_pages bigint) RETURNS bigint LANGUAGE plpgsql\n"
    "  SET search_path FROM CURRENT AS $f$\n"
    "DECLARE from_page bigint; gone bigint := 0; r record;\n"
    "BEGIN\n"
    "  SELECT next_page INTO from_page FROM expiry_cursor FOR UPDATE;\n"
    "  FOR r IN WITH d AS (DELETE FROM bindings\n"
    "      WHERE ctid >= format('(%s,0)', from_page)::tid AND ctid < format('(%s,0)', from_page + p_pages)::tid\n"
    "        AND last_bind_time <= p_cutoff RETURNING app)\n"
    "    SELECT app, count(*) AS n FROM d GROUP BY app LOOP\n"
    "    PERFORM add_count(r.app, -r.n);\n"
    "    gone := gone + r.n;\n"
    "  END LOOP;\n"
    "  UPDATE expiry_cursor SET next_page = CASE\n"
    "    WHEN from_page + p_pages >= pg_relation_size('bindings') / current_setting('block_size')::bigint THEN 0\n"
    "    ELSE from_page + p_pages END;\n"
    "  RETURN gone;\n"
    "END $f$;\n";

/*
 * Version 2: named keys (store.h), each a row beside its app's, gone with
 * it (ON DELETE CASCADE). key_put locks the app's row so that two adds of
 * one app count its keys one after the other; both functions NOTIFY like
 * app_put, so the servers' cached secrets (which hold the keys) go at once.
 */
static const char schema_v2[] =
    "CREATE TABLE app_keys (app bigint NOT NULL REFERENCES apps (id) ON DELETE CASCADE,\n"
    "  created_at bigint NOT NULL, expires_at bigint NOT NULL, role smallint NOT NULL,\n"
    "  name text COLLATE \"C\" NOT NULL, secret text NOT NULL, PRIMARY KEY (app, name));\n"
    /* 1, or -1 (no app), -2 (the name is taken), -3 (p_max keys already) */
    "CREATE FUNCTION key_put(p_app bigint, p_name text, p_role smallint, p_created bigint, p_expires bigint,\n"
    "  p_secret text, p_max int) RETURNS int LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$\n"
    "BEGIN\n"
    "  PERFORM 1 FROM apps WHERE id = p_app FOR UPDATE;\n"
    "  IF NOT FOUND THEN RETURN -1; END IF;\n"
    "  IF EXISTS (SELECT 1 FROM app_keys WHERE app = p_app AND name = p_name) THEN RETURN -2; END IF;\n"
    "  IF (SELECT count(*) FROM app_keys WHERE app = p_app) >= p_max THEN RETURN -3; END IF;\n"
    "  INSERT INTO app_keys (app, created_at, expires_at, role, name, secret)\n"
    "    VALUES (p_app, p_created, p_expires, p_role, p_name, p_secret);\n"
    "  PERFORM pg_notify(current_schema() || '.apps', p_app::text);\n"
    "  RETURN 1;\n"
    "END $f$;\n"
    "CREATE FUNCTION key_revoke(p_app bigint, p_name text) RETURNS boolean LANGUAGE plpgsql\n"
    "  SET search_path FROM CURRENT AS $f$\n"
    "BEGIN\n"
    "  DELETE FROM app_keys WHERE app = p_app AND name = p_name;\n"
    "  IF NOT FOUND THEN RETURN false; END IF;\n"
    "  PERFORM pg_notify(current_schema() || '.apps', p_app::text);\n"
    "  RETURN true;\n"
    "END $f$;\n";

/*
 * Version 3: tags (store.h, "Tags"), as store_state.h lays them out.
 *
 * Locks. tag_apply() takes the app's lock shared (app_remove() waits for it),
 * then the advisory lock of every token it names (the key apply_batch() takes
 * for a token, so a tag write and a batch of one token run one after the
 * other) and of every tag it names, all in one order. Pairs are written under
 * their token's lock, a tag's row is made or deleted under its tag's lock. The
 * counts (tags.n, tag_apps.n) are changed at the end, tags rows in id order and
 * tag_apps after them, so two writers that wait for each other's rows wait in
 * one order; tag_step() takes no lock it would wait for (SKIP LOCKED, and
 * pg_try_advisory_xact_lock).
 *
 * A tag whose count falls to 0 keeps its row (n = 0) until tag_step() deletes
 * it under its tag's lock: a writer that holds that lock and read the row as
 * there must not see it vanish. Reads treat such a row as no tag.
 */
static const char schema_v3[] =
    "CREATE SEQUENCE tag_seq CACHE 1;\n"
    "CREATE TABLE tags (app bigint NOT NULL, id bigint NOT NULL, n bigint NOT NULL,\n"
    "  tag text COLLATE \"C\" NOT NULL, PRIMARY KEY (app, tag));\n"
    "CREATE UNIQUE INDEX tags_by_id ON tags (id);\n"
    "CREATE INDEX tags_empty ON tags (id) WHERE n = 0;\n"
    "CREATE TABLE tag_apps (app bigint PRIMARY KEY, n bigint NOT NULL);\n"
    "CREATE TABLE tag_pairs (app bigint NOT NULL, gen bigint NOT NULL, seq bigint NOT NULL, time bigint NOT NULL,\n"
    "  token text COLLATE \"C\" NOT NULL, PRIMARY KEY (app, token, gen));\n"
    "CREATE INDEX tag_pairs_by_tag ON tag_pairs (gen, seq);\n"
    "CREATE TABLE tag_graves (gen bigint PRIMARY KEY, app bigint NOT NULL);\n"
    "\n"
    /* The app's lock names the schema too: deployments that share a
     * database (one schema each) and an access id no longer wait for each
     * other's imports and `app remove`. */
    "CREATE OR REPLACE FUNCTION app_lock_key(p_app bigint) RETURNS bigint LANGUAGE sql STABLE\n"
    "  SET search_path FROM CURRENT AS $f$ SELECT hashtextextended(current_schema() || ' app ' || p_app, 0) $f$;\n"
    "\n"
    /* app_remove() as in version 1, and the app's tags with it */
    "CREATE OR REPLACE FUNCTION app_remove(p_app bigint) RETURNS bigint LANGUAGE plpgsql\n"
    "  SET search_path FROM CURRENT AS $f$\n"
    "DECLARE gone bigint;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(app_lock_key(p_app));\n"
    "  DELETE FROM apps WHERE id = p_app;\n"
    "  IF NOT FOUND THEN RETURN NULL; END IF;\n"
    "  DELETE FROM bindings WHERE app = p_app;\n"
    "  GET DIAGNOSTICS gone = ROW_COUNT;\n"
    "  DELETE FROM app_counts WHERE app = p_app;\n"
    "  DELETE FROM tag_pairs WHERE app = p_app;\n"
    "  DELETE FROM tags WHERE app = p_app;\n"
    "  DELETE FROM tag_apps WHERE app = p_app;\n"
    "  DELETE FROM tag_graves WHERE app = p_app;\n"
    "  PERFORM pg_notify(current_schema() || '.apps', p_app::text);\n"
    "  RETURN gone;\n"
    "END $f$;\n"
    "\n"
    /* ---- one tag request (store.h: pb_tag_write), its locks already held:
     * {outcome, at, expired, kept[1..n]}. outcome 0 ok, 1 over the tags per
     * token, 2 over the app's distinct tags: then the request's writes are
     * undone (the exception ends the subtransaction of tag_apply()'s block).
     * Kinds: 1 ADD, 2 REMOVE, 3 CLEAR_TOKEN, 4 REPLACE, 5 DELETE_ALL,
     * 6 INVALIDATE. ---- */
    "CREATE FUNCTION tag_write(p_app bigint, p_now bigint, p_ttl bigint, p_max_apt int, p_max_tpa int,\n"
    "    p_kind int, p_tags text[], p_tokens text[], p_by_category boolean, p_platform int, p_since bigint[],\n"
    "    p_max_tpt int, p_max_tags int) RETURNS bigint[] LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$\n"
    "DECLARE\n"
    "  n int := coalesce(array_length(p_tokens, 1), 0);\n"
    "  cutoff bigint := CASE WHEN p_ttl > 0 THEN p_now - p_ttl ELSE -9223372036854775807 END;\n"
    /* the tags this request changes: id, count as read, change; the app's distinct tags as read and changed */
    "  gens bigint[] := '{}'; bases bigint[] := '{}'; deltas bigint[] := '{}';\n"
    "  distinct_now bigint; made int[] := '{}';\n"
    "  kept bigint[] := '{}'; binds bigint := 0; expired bigint := 0;\n"
    "  i int; j int; g bigint; base bigint; cur bigint; held int; up int := 0; down int := 0; total bigint;\n"
    "  tok text; keep boolean; r record;\n"
    "BEGIN\n"
    "  SELECT coalesce((SELECT t.n FROM tag_apps t WHERE t.app = p_app), 0) INTO distinct_now;\n"
    "  IF p_kind = 5 THEN\n"
    /* a tag leaves every token at once: its row goes, its pairs stay (dead:
     * no row has their gen) until tag_step() frees them */
    "    FOR r IN SELECT t.id FROM tags t WHERE t.app = p_app AND t.tag = ANY (p_tags) ORDER BY t.id LOOP\n"
    "      DELETE FROM tags t WHERE t.id = r.id RETURNING t.n INTO cur;\n"
    "      IF FOUND THEN\n"
    "        IF cur > 0 THEN down := down + 1; END IF;\n"
    "        INSERT INTO tag_graves (gen, app) VALUES (r.id, p_app);\n"
    "      END IF;\n"
    "    END LOOP;\n"
    "  END IF;\n"
    "  IF p_kind = 6 THEN\n"
    "    FOR i IN 1..n LOOP\n"
    "      keep := EXISTS (SELECT 1 FROM tag_pairs p JOIN tags t ON t.id = p.gen\n"
    "                WHERE p.app = p_app AND p.token = p_tokens[i] AND p.time >= p_since[i])\n"
    "           OR EXISTS (SELECT 1 FROM bindings b WHERE b.app = p_app AND b.token = p_tokens[i]\n"
    "                AND b.last_bind_time >= p_since[i]);\n"
    "      kept := kept || CASE WHEN keep THEN 1::bigint ELSE 0::bigint END;\n"
    "      CONTINUE WHEN keep;\n"
    "      SELECT * INTO r FROM apply_change(p_app, p_now, cutoff, p_max_apt, p_max_tpa, 4, p_tokens[i], 0,\n"
    "        '{}', '{}', '{}', '{}');\n"
    "      binds := binds + r.delta;\n"
    "    END LOOP;\n"
    "  END IF;\n"
    /* the pairs tokens lose: REMOVE's, CLEAR_TOKEN's, REPLACE's that it does not keep, INVALIDATE's not kept */
    "  IF p_kind IN (2, 3, 4, 6) THEN\n"
    "    FOR i IN 1..CASE WHEN p_kind IN (2, 6) THEN n ELSE 1 END LOOP\n"
    "      CONTINUE WHEN p_kind = 6 AND kept[i] = 1;\n"
    "      FOR r IN DELETE FROM tag_pairs p USING tags t\n"
    "          WHERE p.app = p_app AND p.token = p_tokens[i] AND t.id = p.gen AND CASE p_kind\n"
    "            WHEN 2 THEN t.tag = p_tags[i]\n"
    "            WHEN 4 THEN NOT (t.tag = ANY (p_tags) OR (p_by_category AND NOT split_part(t.tag, ':', 1) = ANY (\n"
    "              SELECT split_part(x, ':', 1) FROM unnest(p_tags) AS x)))\n"
    "            ELSE true END\n"
    "          RETURNING p.gen, t.n LOOP\n"
    "        j := array_position(gens, r.gen);\n"
    "        IF j IS NULL THEN\n"
    "          gens := gens || r.gen; bases := bases || r.n; deltas := deltas || 0::bigint; j := array_length(gens, 1);\n"
    "        END IF;\n"
    "        deltas[j] := deltas[j] - 1;\n"
    "        IF bases[j] + deltas[j] = 0 THEN distinct_now := distinct_now - 1; END IF;\n"
    "      END LOOP;\n"
    "    END LOOP;\n"
    "  END IF;\n"
    /* ADD, and REPLACE's tags, pair by pair in request order (REPLACE: one token) */
    "  IF p_kind IN (1, 4) THEN\n"
    "    FOR i IN 1..coalesce(array_length(p_tags, 1), 0) LOOP\n"
    "      tok := CASE WHEN p_kind = 4 THEN p_tokens[1] ELSE p_tokens[i] END;\n"
    "      SELECT t.id, t.n INTO g, base FROM tags t WHERE t.app = p_app AND t.tag = p_tags[i];\n"
    "      IF NOT FOUND THEN\n"
    "        g := nextval('tag_seq'); base := 0;\n"
    "        INSERT INTO tags (app, id, n, tag) VALUES (p_app, g, 0, p_tags[i]);\n"
    "      END IF;\n"
    "      j := array_position(gens, g);\n"
    "      IF j IS NULL THEN\n"
    "        gens := gens || g; bases := bases || base; deltas := deltas || 0::bigint; j := array_length(gens, 1);\n"
    "      END IF;\n"
    "      cur := bases[j] + deltas[j];\n"
    "      IF cur <= 0 AND distinct_now >= p_max_tags THEN\n"
    "        RETURN ARRAY[2, i - 1, 0]::bigint[];\n"
    "      END IF;\n"
    "      UPDATE tag_pairs SET time = p_now WHERE app = p_app AND token = tok AND gen = g;\n"
    "      CONTINUE WHEN FOUND;\n"
    "      SELECT count(*) INTO held FROM tag_pairs p JOIN tags t ON t.id = p.gen WHERE p.app = p_app AND p.token = tok;\n"
    "      IF held >= p_max_tpt THEN RETURN ARRAY[1, i - 1, 0]::bigint[]; END IF;\n"
    "      INSERT INTO tag_pairs (app, gen, seq, time, token) VALUES (p_app, g, nextval('tag_seq'), p_now, tok);\n"
    "      deltas[j] := deltas[j] + 1;\n"
    "      IF cur <= 0 THEN distinct_now := distinct_now + 1; made := made || (i - 1); END IF;\n"
    "    END LOOP;\n"
    "  END IF;\n"
    /* what ADD, REMOVE, CLEAR_TOKEN and REPLACE do to the tokens' platform: as an APPEND of no account */
    "  IF p_platform <> 0 AND p_kind <= 4 THEN\n"
    "    FOR tok IN SELECT DISTINCT x FROM unnest(p_tokens) AS x LOOP\n"
    "      SELECT * INTO r FROM apply_change(p_app, p_now, cutoff, p_max_apt, p_max_tpa, 1, tok, p_platform,\n"
    "        '{}', '{}', '{}', '{}');\n"
    "      binds := binds + r.delta; expired := expired + r.expired;\n"
    "    END LOOP;\n"
    "  END IF;\n"
    /* the counts, rows in id order, then the app's */
    "  FOR r IN SELECT x.g, x.d FROM unnest(gens, deltas) AS x(g, d) WHERE x.d <> 0 ORDER BY x.g LOOP\n"
    "    UPDATE tags t SET n = t.n + r.d WHERE t.id = r.g RETURNING t.n INTO cur;\n"
    "    CONTINUE WHEN NOT FOUND;\n"
    "    IF cur - r.d <= 0 AND cur > 0 THEN up := up + 1; END IF;\n"
    "    IF cur - r.d > 0 AND cur <= 0 THEN down := down + 1; END IF;\n"
    "  END LOOP;\n"
    "  IF up <> down THEN\n"
    "    INSERT INTO tag_apps AS a (app, n) VALUES (p_app, up - down)\n"
    "      ON CONFLICT (app) DO UPDATE SET n = a.n + EXCLUDED.n RETURNING a.n INTO total;\n"
    /* another writer made tags meanwhile: the last of this request's new tags are the ones too many */
    "    IF up > 0 AND total > p_max_tags THEN\n"
    "      RETURN ARRAY[2, coalesce(made[greatest(1, array_length(made, 1) - (total - p_max_tags)::int + 1)], 0),\n"
    "        0]::bigint[];\n"
    "    END IF;\n"
    "  END IF;\n"
    "  IF binds <> 0 THEN PERFORM add_count(p_app, binds); END IF;\n"
    "  RETURN ARRAY[0, 0, expired] || kept;\n"
    "END $f$;\n"
    "\n"
    /* ---- one tag request, whole or nothing: NULL when the app does not
     * exist, else tag_write()'s answer. A refused request's writes are
     * undone by the exception that ends the block's subtransaction. ---- */
    "CREATE FUNCTION tag_apply(p_app bigint, p_now bigint, p_ttl bigint, p_max_apt int, p_max_tpa int,\n"
    "    p_kind int, p_tags text[], p_tokens text[], p_by_category boolean, p_platform int, p_since bigint[],\n"
    "    p_max_tpt int, p_max_tags int) RETURNS bigint[] LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$\n"
    "DECLARE k bigint; res bigint[];\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock_shared(app_lock_key(p_app));\n"
    "  PERFORM 1 FROM apps WHERE id = p_app;\n"
    "  IF NOT FOUND THEN RETURN NULL; END IF;\n"
    "  FOR k IN SELECT DISTINCT key FROM (\n"
    "      SELECT hashtextextended(p_app || ' t ' || x.t, 0) FROM unnest(p_tokens) AS x(t)\n"
    "      UNION ALL\n"
    "      SELECT hashtextextended(p_app || ' g ' || y.g, 0) FROM unnest(p_tags) AS y(g)\n"
    "    ) AS keys(key) ORDER BY key LOOP\n"
    "    PERFORM pg_advisory_xact_lock(k);\n"
    "  END LOOP;\n"
    "  BEGIN\n"
    "    res := tag_write(p_app, p_now, p_ttl, p_max_apt, p_max_tpa, p_kind, p_tags, p_tokens, p_by_category,\n"
    "      p_platform, p_since, p_max_tpt, p_max_tags);\n"
    "    IF res[1] <> 0 THEN RAISE SQLSTATE 'PB001'; END IF;\n"
    "  EXCEPTION WHEN SQLSTATE 'PB001' THEN\n"
    "    NULL;\n"
    "  END;\n"
    "  RETURN res;\n"
    "END $f$;\n"
    "\n"
    /* ---- import's tag lines: each as op 9 of one pair would add it, in
     * order, under the app's exclusive lock (no other writer of the app
     * meanwhile, so no lock per token); one outcome each (0 added, 1 the
     * token's tags are full, 2 the app's). NULL when there is no app. ---- */
    "CREATE FUNCTION tag_import(p_app bigint, p_now bigint, p_tags text[], p_tokens text[], p_max_tpt int,\n"
    "    p_max_tags int) RETURNS int[] LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$\n"
    "DECLARE outcomes int[] := '{}'; res bigint[]; i int;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(app_lock_key(p_app));\n"
    "  PERFORM 1 FROM apps WHERE id = p_app;\n"
    "  IF NOT FOUND THEN RETURN NULL; END IF;\n"
    "  FOR i IN 1..coalesce(array_length(p_tokens, 1), 0) LOOP\n"
    "    BEGIN\n"
    "      res := tag_write(p_app, p_now, 0, 1, 1, 1, ARRAY[p_tags[i]], ARRAY[p_tokens[i]], false, 0, '{}',\n"
    "        p_max_tpt, p_max_tags);\n"
    "      IF res[1] <> 0 THEN RAISE SQLSTATE 'PB001'; END IF;\n"
    "    EXCEPTION WHEN SQLSTATE 'PB001' THEN\n"
    "      NULL;\n"
    "    END;\n"
    "    outcomes := outcomes || res[1]::int;\n"
    "  END LOOP;\n"
    "  RETURN outcomes;\n"
    "END $f$;\n"
    "\n"
    /* ---- the background's bounded step: frees at most p_pairs pairs of
     * the oldest grave (the grave goes once none is left), and deletes tags
     * whose count fell to 0 while no writer holds their lock (nor an import
     * its app's, which stands for every tag's). Returns the pairs
     * freed, or -1 when there was no grave. ---- */
    "CREATE FUNCTION tag_step(p_pairs int) RETURNS bigint LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$\n"
    "DECLARE g bigint; gone bigint := -1;\n"
    "BEGIN\n"
    "  SELECT x.gen INTO g FROM tag_graves x ORDER BY x.gen LIMIT 1 FOR UPDATE SKIP LOCKED;\n"
    "  IF FOUND THEN\n"
    "    DELETE FROM tag_pairs WHERE ctid = ANY (ARRAY(\n"
    "      SELECT p.ctid FROM tag_pairs p WHERE p.gen = g LIMIT p_pairs FOR UPDATE SKIP LOCKED));\n"
    "    GET DIAGNOSTICS gone = ROW_COUNT;\n"
    "    IF gone = 0 AND NOT EXISTS (SELECT 1 FROM tag_pairs p WHERE p.gen = g) THEN\n"
    "      DELETE FROM tag_graves WHERE gen = g;\n"
    "    END IF;\n"
    "  END IF;\n"
    "  DELETE FROM tags t WHERE t.ctid = ANY (ARRAY(\n"
    "      SELECT e.ctid FROM tags e WHERE e.n = 0 LIMIT 100 FOR UPDATE SKIP LOCKED))\n"
    "    AND pg_try_advisory_xact_lock_shared(app_lock_key(t.app))\n"
    "    AND pg_try_advisory_xact_lock(hashtextextended(t.app || ' g ' || t.tag, 0));\n"
    "  RETURN gone;\n"
    "END $f$;\n";

/* The upgrades from version i to i + 1, for i = 1 … PB_PG_SCHEMA_VERSION - 1. */
static const char *const upgrades[] = {schema_v2, schema_v3};

/*
 * Runs `sql` on `conn`: 0, or -1 with the server's message in `error`. A
 * status rather than `error` itself: callers that tested a returned `error`
 * against NULL told the compiler it could be NULL, and it then saw a NULL
 * destination for this snprintf on the path after a failure.
 */
static int run(PGconn *conn, const char *sql, char *error, size_t error_size)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(res);
    bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(error, error_size, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

/* The schema's version: 0 when it has no meta table yet; -1 on failure. */
static long schema_version(PGconn *conn, const char *quoted_schema, char *error, size_t error_size)
{
    char sql[PB_PG_SCHEMA_MAX * 2 + 128];
    snprintf(sql, sizeof(sql), "SELECT to_regclass('%s.meta') IS NOT NULL", quoted_schema);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(error, error_size, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    bool exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!exists)
        return 0;
    snprintf(sql, sizeof(sql), "SELECT value FROM %s.meta WHERE key = 'version'", quoted_schema);
    res = PQexec(conn, sql);
    long version = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        version = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    else
        snprintf(error, error_size, "%s.meta has no version", quoted_schema);
    PQclear(res);
    return version;
}

/*
 * One step (create, or upgrade to `version`), in a transaction with
 * search_path set to the schema: 0, or -1 with the message in `error`.
 */
static int install(PGconn *conn, const char *quoted_schema, const char *body, long version, char *error,
                   size_t error_size)
{
    char sql[PB_PG_SCHEMA_MAX * 2 + 160];
    snprintf(sql, sizeof(sql), "BEGIN; CREATE SCHEMA IF NOT EXISTS %s; SET LOCAL search_path TO %s", quoted_schema,
             quoted_schema);
    if (run(conn, sql, error, error_size) != 0 || run(conn, body, error, error_size) != 0)
        goto fail;
    snprintf(sql, sizeof(sql),
             "INSERT INTO meta (key, value) VALUES ('version', '%ld') "
             "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value; COMMIT",
             version);
    if (run(conn, sql, error, error_size) != 0)
        goto fail;
    return 0;
fail:
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}

const char *pb_pg_schema_ensure(PGconn *conn, const char *quoted_schema, char *error, size_t error_size)
{
    /* one lock for every namespace: creating schemas is rare and quick */
    if (run(conn, "SELECT pg_advisory_lock(hashtextextended('pushbind schema', 0))", error, error_size) != 0)
        return error;
    long version = schema_version(conn, quoted_schema, error, error_size);
    int rc = version < 0 ? -1 : 0;
    if (version > PB_PG_SCHEMA_VERSION) {
        snprintf(error, error_size,
                 "schema %s is at version %ld, newer than this pushbind knows (%d): run a newer pushbind",
                 quoted_schema, version, PB_PG_SCHEMA_VERSION);
        rc = -1;
    } else if (version == 0) {
        rc = install(conn, quoted_schema, schema_v1, 1, error, error_size);
        version = 1;
    }
    for (; rc == 0 && version < PB_PG_SCHEMA_VERSION; version++)
        rc = install(conn, quoted_schema, upgrades[version - 1], version + 1, error, error_size);
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(hashtextextended('pushbind schema', 0))"));
    return rc == 0 ? NULL : error;
}
