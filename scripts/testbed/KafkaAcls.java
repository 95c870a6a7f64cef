// Grants the test bed's client principals every operation on all topics,
// groups, transactional ids and the cluster, as a super user over the
// broker's PLAINTEXT listener. Run as a single-file program:
//   java -cp "$KAFKA_LIB/*" KafkaAcls.java BOOTSTRAP PRINCIPAL...
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAcls {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        List<AclBinding> acls = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            AccessControlEntry all = new AccessControlEntry(args[i], "*", AclOperation.ALL, AclPermissionType.ALLOW);
            acls.add(new AclBinding(new ResourcePattern(ResourceType.TOPIC, "*", PatternType.LITERAL), all));
            acls.add(new AclBinding(new ResourcePattern(ResourceType.GROUP, "*", PatternType.LITERAL), all));
            acls.add(new AclBinding(new ResourcePattern(ResourceType.TRANSACTIONAL_ID, "*", PatternType.LITERAL), all));
            acls.add(new AclBinding(new ResourcePattern(ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL), all));
        }
        try (Admin admin = Admin.create(props)) {
            admin.createAcls(acls).all().get();
        }
        System.out.println("created " + acls.size() + " ACLs");
    }
}
