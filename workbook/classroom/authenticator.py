"""JupyterHub's PAM login, against the students' own Unix accounts.

``PAMAuthenticator`` is JupyterHub's default: it asks the system (PAM) whether the password
is that account's. The hub name ``student3`` is the account ``wb-student3``
(``accounts.system_name``), so this asks PAM about the account and tells the hub the hub
name. A name that is not one of this class's students never reaches PAM: no other account on
the machine can log in to the class, root included.
"""

from __future__ import annotations

from jupyterhub.auth import PAMAuthenticator
from traitlets import Unicode

from .accounts import PREFIX, system_name, uid_of


class StudentPAMAuthenticator(PAMAuthenticator):
    account_prefix = Unicode(PREFIX, help="prefix of the students' Unix accounts").tag(config=True)

    async def authenticate(self, handler, data):
        hub_name = self.normalize_username(data.get("username", ""))
        if hub_name not in self.allowed_users:
            return None
        checked = await super().authenticate(
            handler, {**data, "username": system_name(hub_name, self.account_prefix)})
        return hub_name if checked else None

    def system_user_exists(self, user):
        return uid_of(system_name(user.name, self.account_prefix)) is not None
