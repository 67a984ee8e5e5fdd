#[tars_rpc::tars_push]
trait Push {
    async fn push_msg(&self, s_rsp: String) -> i32;
}

fn main() {}
