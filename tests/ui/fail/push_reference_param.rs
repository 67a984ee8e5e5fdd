#[tars_rpc::tars_push]
trait Push {
    async fn push_msg(&self, ret: i32, s_rsp: &mut String);
}

fn main() {}
