"""The service desk (SPEC B9, 会务服务台): the board of every room for service staff
(`board.py`, `/desk`), service calls and cleaning tasks (`tasks.py`, the API
`/api/v1/service-calls`), and the `desk` consumer of the event log that turns meetings'
ends into cleaning tasks and tells the desks and door screens (`follow.py`)."""
