// expect-error: capture of 'req'
// Nor can work sent to the blocking pool.
import Gust

func routes(_ router: Router) {
    router.get("/work") { req, res in
        res.offload { req.path.count } then: { count, res in res.send("\(count)") }
    }
}
