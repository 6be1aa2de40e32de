"""Airflow-side companions of airflow-token-broker.

``airflow_token_broker.fab_auth_manager.TokenBrokerFabAuthManager``: the FAB auth manager for Airflow 3, extended
so that per-caller tokens minted by the broker name their FAB user by username.
"""
