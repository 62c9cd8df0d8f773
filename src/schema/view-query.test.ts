import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseViewQuery, type TableKind } from './view-query.ts';

const kinds: Record<string, TableKind> = { posts: 'readable', tags: 'readable', users: 'auth' };
const parse = (q: string) => parseViewQuery(q, (name) => kinds[name.toLowerCase()]);
const refused = (q: string, reason: RegExp) => assert.throws(() => parse(q), reason, q);

describe('view query checker', () => {
  it('names columns as written and finds where plain columns come from', () => {
    const v = parse(
      'SELECT p.id, p.title AS Heading, "Quoted" q, count(t.id) AS n FROM posts p JOIN tags t ON t.post = p.id GROUP BY p.id;',
    );
    assert.deepEqual(
      v.columns.map((c) => [c.alias, c.bare, c.source]),
      [
        ['id', true, { table: 'posts', column: 'id' }],
        ['Heading', true, { table: 'posts', column: 'title' }],
        ['q', true, { column: 'Quoted' }],
        ['n', true, undefined],
      ],
    );
    assert.deepEqual([...v.reads], ['posts', 'tags']);
    assert.equal(v.sql.endsWith(';'), false);
  });

  it('treats FROM, IN and FOR inside function calls as arguments, not clauses', () => {
    parse(
      "SELECT id, extract(year from created) AS y, substring(title from 1 for 2) AS s, position('a' in title) AS p, trim(both ' ' from title) AS t FROM posts",
    );
  });

  it('scopes WITH names: visible after their body, never inside it', () => {
    parse('WITH a AS (SELECT id FROM posts), b AS (SELECT id FROM a) SELECT id FROM b');
    refused('WITH posts2 AS (SELECT id FROM posts2) SELECT id FROM posts2', /not a collection/);
    // A WITH inside a subquery does not cover a table of the outer query.
    refused(
      'SELECT (WITH secret AS (SELECT 1 AS x) SELECT x FROM secret) AS id FROM secret',
      /not a collection/,
    );
  });

  it('refuses every way out of the collections it may read', () => {
    refused('SELECT id FROM _superusers', /not a collection/);
    refused('SELECT id FROM sqlite_master', /not a collection/);
    refused('SELECT id FROM posts, _sessions', /not a collection/);
    refused('SELECT id FROM posts p LEFT JOIN (SELECT id FROM _otps) o ON o.id = p.id', /not a collection/);
    refused('SELECT id FROM posts WHERE id IN _superusers', /IN must be followed/);
    refused('SELECT id FROM information_schema.tables', /schema-qualified/);
    refused('SELECT id, pg_catalog.lower(title) AS l FROM posts', /schema-qualified/);
    refused("SELECT id, query_to_xml('select 1', true, true, '') AS x FROM posts", /not allowed/);
    refused('SELECT id, "pg_read_file"(\'x\') AS x FROM posts', /not allowed/);
    refused('SELECT id, coalesce(SELECT 1) AS x FROM posts', /own parentheses/);
    refused('SELECT id, TABLE AS x FROM posts', /not allowed/);
    refused('SELECT id FROM posts; SELECT 1', /multiple statements/);
    refused('SELECT id FROM posts LOCK IN SHARE MODE', /not allowed/);
  });

  it('refuses what engines tokenize differently', () => {
    refused('SELECT id, 1 --1 AS x FROM posts', /comments/);
    refused('SELECT id /*! , (SELECT 1) */ FROM posts', /comments/);
    refused('SELECT id FROM posts # x', /comments/);
    refused("SELECT id, 'a\\' AS x FROM posts", /backslashes/);
    refused('SELECT id, U&"\\0061" AS x FROM posts', /U&|backslashes/);
    refused('SELECT id, $$x$$ AS x FROM posts', /unsupported character/);
    refused('SELECT id, @@version AS x FROM posts', /unsupported character/);
    refused('SELECT id, arr[(SELECT 1)] AS x FROM posts', /plain name/);
  });

  it('keeps hidden auth data out: password, tokenKey, whole rows, wildcards', () => {
    refused('SELECT id, password FROM users', /password/);
    refused('SELECT u.id, u.tokenKey AS k FROM users u', /tokenKey/);
    refused('SELECT u.id, CAST(u AS TEXT) AS row FROM users u', /whole auth record/);
    refused('SELECT id, users::text AS row FROM users', /whole auth record/);
    refused('SELECT u.* FROM users u', /wildcard/);
    refused('WITH x AS (SELECT * FROM users) SELECT id FROM x', /wildcard/);
    parse('SELECT u.id, u.email, count(*) AS n, 2 * 3 AS six FROM users u GROUP BY u.id, u.email');
  });

  it('asks for a name where a column has none, and for unique names', () => {
    refused('SELECT id, title || title FROM posts', /AS name/);
    refused('SELECT id, title AS id FROM posts', /duplicated/);
    refused('UPDATE posts SET title = 1', /must start with SELECT/);
    refused('', /must start with SELECT/);
    refused('SELECT (id FROM posts', /unbalanced/);
    refused(`SELECT id FROM posts WHERE title = '${'x'.repeat(5000)}'`, /longer than/);
  });
});
