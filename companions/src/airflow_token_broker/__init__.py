"""Airflow-side companions of airflow-token-broker.

``airflow_token_broker.fab_auth_manager.TokenBrokerFabAuthManager``: the FAB auth manager for Airflow 3, extended
so that per-caller tokens minted by the broker name their FAB user by username.

``airflow_token_broker.airflow2_auth``: an API auth backend for Airflow 2 (``[api] auth_backends``) that verifies the
broker's tokens itself (``bearer_verifier``) and sets their FAB user for the request.
"""
