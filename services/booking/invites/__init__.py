"""Emailed invites (iMIP) and replies (iTIP) — pure code, no I/O.

* ``model``   the data (start here: its docstring shows the whole flow)
* ``ics``     METHOD:REQUEST / CANCEL iCalendar bodies (icalendar 7)
* ``mime``    one RFC 5322 message per recipient, Google's multipart layout
* ``replies`` reading REPLY / COUNTER / REFRESH out of inbound mail, and the policy applying them
* ``ports``   the outbox repository and mail transport the dispatcher is written against
* ``memory``  an in-memory outbox repository (tests, benchmark)
"""
