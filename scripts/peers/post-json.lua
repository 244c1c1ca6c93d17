-- wrk: POST a small JSON document on every request (the /async/json decode-and-encode route).
wrk.method = "POST"
wrk.body = '{"name":"gust","count":21}'
wrk.headers["Content-Type"] = "application/json"
