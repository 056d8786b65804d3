"""Career Coach web app: `streamlit run app.py` (or `make run`).

Two pages: the chat for job seekers and the staff audit page (behind a login).
"""

import streamlit as st

st.set_page_config(page_title="Career Coach", page_icon="💼", layout="centered")
page = st.navigation(
    [
        st.Page("views/chat.py", title="Chat", icon="💬", default=True),
        st.Page("views/staff.py", title="Staff", icon="🔒", url_path="staff"),
    ]
)
page.run()
