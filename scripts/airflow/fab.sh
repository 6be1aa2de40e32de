# Sourced by start.sh when AIRFLOW_AUTH_MANAGER=fab: the FAB auth manager with the token broker's companion
# (companions/, loaded from source through PYTHONPATH so tests never rebuild the venv).
#
#   AIRFLOW_FAB_USERS   users created before the API server starts, "name:Role,...", each with the
#                       password "<name>-pass" (default "admin:Admin": admin/admin-pass)
#   AIRFLOW__TOKEN_BROKER__FAB_PROVISION, AIRFLOW__TOKEN_BROKER__FAB_PROVISION_ROLES: the companion's settings
#
# `airflow db migrate` also creates FAB's tables (ab_user, ab_role, ...): FAB's DB manager is registered by the
# provider, so no separate `airflow fab-db migrate` is needed.

COMPANIONS_SRC="$(cd "${SCRIPT_DIR}/../../companions/src" && pwd)"
export PYTHONPATH="${COMPANIONS_SRC}${PYTHONPATH:+:${PYTHONPATH}}"
: "${AIRFLOW__CORE__AUTH_MANAGER:=airflow_token_broker.fab_auth_manager.TokenBrokerFabAuthManager}"
: "${AIRFLOW_FAB_USERS:=admin:Admin}"

# Called after `airflow db migrate`; FAB creates its default roles (Admin, Op, User, Viewer, Public) on first use.
fab_create_users() {
  local entry name role entries
  IFS=',' read -ra entries <<< "$AIRFLOW_FAB_USERS"
  for entry in "${entries[@]}"; do
    [[ -z "$entry" ]] && continue
    name="${entry%%:*}"
    role="${entry#*:}"
    log "airflow users create $name ($role)"
    "$AIRFLOW_BIN" users create --username "$name" --password "${name}-pass" --firstname "$name" \
      --lastname test --email "${name}@example.invalid" --role "$role" >&2
  done
}
