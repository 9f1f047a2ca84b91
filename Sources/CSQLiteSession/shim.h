// SQLite's session extension, from the system library (Debian's libsqlite3 is built with SQLITE_ENABLE_SESSION
// and SQLITE_ENABLE_PREUPDATE_HOOK). sqlite3.h declares these only when those macros are set before it is
// included, and GRDB's SQLite module includes it without them, so the few functions the replica log uses are
// declared here. Their prototypes are SQLite's own (sqlite3.h, "Session Module").
#ifndef DAIBAN_SQLITE_SESSION_H
#define DAIBAN_SQLITE_SESSION_H

struct sqlite3;
struct sqlite3_session;
struct sqlite3_changeset_iter;

int sqlite3session_create(struct sqlite3 *db, const char *zDb, struct sqlite3_session **ppSession);
void sqlite3session_delete(struct sqlite3_session *pSession);
int sqlite3session_attach(struct sqlite3_session *pSession, const char *zTab);
void sqlite3session_table_filter(struct sqlite3_session *pSession, int (*xFilter)(void *pCtx, const char *zTab),
                                 void *pCtx);
int sqlite3session_changeset(struct sqlite3_session *pSession, int *pnChangeset, void **ppChangeset);
int sqlite3changeset_apply(struct sqlite3 *db, int nChangeset, void *pChangeset,
                           int (*xFilter)(void *pCtx, const char *zTab),
                           int (*xConflict)(void *pCtx, int eConflict, struct sqlite3_changeset_iter *p),
                           void *pCtx);
int sqlite3changeset_op(struct sqlite3_changeset_iter *pIter, const char **pzTab, int *pnCol, int *pOp, int *pbIndirect);
int sqlite3_db_config(struct sqlite3 *db, int op, ...);
void sqlite3_free(void *p);

/// Turns the connection's triggers off (0) or on (1): SQLITE_DBCONFIG_ENABLE_TRIGGER, 1003 in sqlite3.h. Returns
/// the setting in force afterwards (-1 when SQLite refused).
static inline int daiban_sqlite_set_triggers(struct sqlite3 *db, int on) {
    int now = -1;
    if (sqlite3_db_config(db, 1003, on, &now) != 0) return -1;
    return now;
}

/// sqlite3_free, under a name no other module declares.
static inline void daiban_sqlite_free(void *p) { sqlite3_free(p); }

#endif
