"""The dashboard's pages; app.py lists them and runs the chosen one."""

# The session_state key app.py sets once its navigation has run, so pages/common.py can tell a page run through
# app.py from one Streamlit ran on its own (see common._through_the_app).
APP_RAN = "app.py ran its navigation"
