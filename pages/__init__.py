"""The dashboard's pages; app.py lists them and runs the chosen one."""

# The session_state key app.py sets once its navigation has run, so pages/parts can tell a page run through
# app.py from one Streamlit ran on its own (see parts.navigation.through_the_app).
APP_RAN = "app.py ran its navigation"
