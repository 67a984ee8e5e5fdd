#[tars_rpc::tars_push]
trait Push {
    async fn push_msg(&self, ret: i32, when: u64);
}

fn main() {}
